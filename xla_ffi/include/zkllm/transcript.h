#pragma once
// One Fiat–Shamir step of zkllm_jax/transcript.py (version 1), fused: absorb k field elements,
// then draw n challenges. The bytes are those of `absorb_field` followed by `challenges`:
//   S1  = SHA256(0x01 || S || absorb_meta || x_0 || ... || x_{k-1})   (canonical, 32 bytes LE)
//   S2  = SHA256(0x02 || S1 || squeeze_meta)
//   B_i = SHA256(0x03 || S2 || u32be(i)), i < 2n;   c_j = int_be((B_2j || B_2j+1)[0:48]) mod r
// The metas are the static headers Python builds (label, kind, shape, lengths). A sumcheck
// round's transcript work is then one call (one device thread) instead of ~10 small ones.
#include <cstddef>
#include <cstdint>

#include "zkllm/field.h"
#include "zkllm/macros.h"
#include "zkllm/sha256.h"

namespace zk::transcript {

// The handlers' shape check: a 32-byte state in and out, k >= 1 and n >= 1 whole elements.
inline bool step_shapes_ok(size_t state, size_t x, size_t state_out, size_t challenges) {
  return state == 32 && state_out == 32 && x > 0 && x % 8 == 0 && challenges > 0 &&
         challenges % 8 == 0;
}

ZK_HD void absorb_challenges(const uint8_t* state, const uint32_t* x, size_t k,
                             const uint8_t* absorb_meta, size_t absorb_len,
                             const uint8_t* squeeze_meta, size_t squeeze_len,
                             uint8_t* state_out, uint32_t* challenges, size_t n) {
  Sha256 h;
  h.reset();
  h.update_byte(0x01);
  h.update(state, 32);
  h.update(absorb_meta, absorb_len);
  for (size_t i = 0; i < k; ++i) {
    uint32_t v[8];
    Fr::load(x + 8 * i).to_canonical().store(v);
    uint8_t b[32];
    for (int j = 0; j < 8; ++j)
      for (int t = 0; t < 4; ++t) b[4 * j + t] = (uint8_t)(v[j] >> (8 * t));
    h.update(b, 32);
  }
  uint8_t s1[32];
  h.final(s1);
  h.reset();
  h.update_byte(0x02);
  h.update(s1, 32);
  h.update(squeeze_meta, squeeze_len);
  h.final(state_out);
  for (size_t j = 0; j < n; ++j) {
    uint8_t blocks[64];
    for (int half = 0; half < 2; ++half) {
      const uint32_t i = (uint32_t)(2 * j + half);
      h.reset();
      h.update_byte(0x03);
      h.update(state_out, 32);
      const uint8_t be[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                             (uint8_t)i};
      h.update(be, 4);
      h.final(blocks + 32 * half);
    }
    uint32_t w[16] = {0};
    for (int t = 0; t < 48; ++t) w[t / 4] |= (uint32_t)blocks[47 - t] << (8 * (t % 4));
    Fr::from_wide(w).store(challenges + 8 * j);
  }
}

}  // namespace zk::transcript
