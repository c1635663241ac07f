#pragma once
// SHA-256 (FIPS 180-4) for the host and the device.
//
// Sha256 is a streaming hasher: update() any number of times, then final(). The state fits in
// registers plus a 64-byte block buffer, so one device thread can hash one message. The round
// constants come from a switch rather than a table because constexpr arrays are not visible to
// device code; in the fully unrolled device loop every index is a literal and folds away.
#include <cstddef>
#include <cstdint>

#include "zkllm/macros.h"

namespace zk {

namespace sha256_detail {

ZK_HD constexpr uint32_t k(int i) {
  switch (i) {
    case 0: return 0x428a2f98u; case 1: return 0x71374491u; case 2: return 0xb5c0fbcfu;
    case 3: return 0xe9b5dba5u; case 4: return 0x3956c25bu; case 5: return 0x59f111f1u;
    case 6: return 0x923f82a4u; case 7: return 0xab1c5ed5u; case 8: return 0xd807aa98u;
    case 9: return 0x12835b01u; case 10: return 0x243185beu; case 11: return 0x550c7dc3u;
    case 12: return 0x72be5d74u; case 13: return 0x80deb1feu; case 14: return 0x9bdc06a7u;
    case 15: return 0xc19bf174u; case 16: return 0xe49b69c1u; case 17: return 0xefbe4786u;
    case 18: return 0x0fc19dc6u; case 19: return 0x240ca1ccu; case 20: return 0x2de92c6fu;
    case 21: return 0x4a7484aau; case 22: return 0x5cb0a9dcu; case 23: return 0x76f988dau;
    case 24: return 0x983e5152u; case 25: return 0xa831c66du; case 26: return 0xb00327c8u;
    case 27: return 0xbf597fc7u; case 28: return 0xc6e00bf3u; case 29: return 0xd5a79147u;
    case 30: return 0x06ca6351u; case 31: return 0x14292967u; case 32: return 0x27b70a85u;
    case 33: return 0x2e1b2138u; case 34: return 0x4d2c6dfcu; case 35: return 0x53380d13u;
    case 36: return 0x650a7354u; case 37: return 0x766a0abbu; case 38: return 0x81c2c92eu;
    case 39: return 0x92722c85u; case 40: return 0xa2bfe8a1u; case 41: return 0xa81a664bu;
    case 42: return 0xc24b8b70u; case 43: return 0xc76c51a3u; case 44: return 0xd192e819u;
    case 45: return 0xd6990624u; case 46: return 0xf40e3585u; case 47: return 0x106aa070u;
    case 48: return 0x19a4c116u; case 49: return 0x1e376c08u; case 50: return 0x2748774cu;
    case 51: return 0x34b0bcb5u; case 52: return 0x391c0cb3u; case 53: return 0x4ed8aa4au;
    case 54: return 0x5b9cca4fu; case 55: return 0x682e6ff3u; case 56: return 0x748f82eeu;
    case 57: return 0x78a5636fu; case 58: return 0x84c87814u; case 59: return 0x8cc70208u;
    case 60: return 0x90befffau; case 61: return 0xa4506cebu; case 62: return 0xbef9a3f7u;
    default: return 0xc67178f2u;
  }
}

ZK_HD constexpr uint32_t iv(int i) {
  switch (i) {
    case 0: return 0x6a09e667u; case 1: return 0xbb67ae85u; case 2: return 0x3c6ef372u;
    case 3: return 0xa54ff53au; case 4: return 0x510e527fu; case 5: return 0x9b05688cu;
    case 6: return 0x1f83d9abu; default: return 0x5be0cd19u;
  }
}

ZK_HD uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

}  // namespace sha256_detail

struct Sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  uint32_t buf_len;  // bytes waiting in buf, < 64
  uint64_t total;    // bytes absorbed so far

  ZK_HD Sha256() { reset(); }

  ZK_HD void reset() {
    ZK_UNROLL
    for (int i = 0; i < 8; ++i) h[i] = sha256_detail::iv(i);
    buf_len = 0;
    total = 0;
  }

  // One 64-byte block into the chaining value.
  ZK_HD static void compress(uint32_t* st, const uint8_t* block) {
    using sha256_detail::rotr;
    uint32_t w[16];
    ZK_UNROLL
    for (int i = 0; i < 16; ++i)
      w[i] = ((uint32_t)block[4 * i] << 24) | ((uint32_t)block[4 * i + 1] << 16) |
             ((uint32_t)block[4 * i + 2] << 8) | (uint32_t)block[4 * i + 3];
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
             hh = st[7];
    // The message schedule lives in a 16-word ring so it stays in registers on the device.
    ZK_UNROLL
    for (int t = 0; t < 64; ++t) {
      uint32_t wt;
      if (t < 16) {
        wt = w[t];
      } else {
        uint32_t w15 = w[(t + 1) & 15], w2 = w[(t + 14) & 15];
        uint32_t s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
        uint32_t s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
        wt = w[t & 15] + s0 + w[(t + 9) & 15] + s1;
        w[t & 15] = wt;
      }
      uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + S1 + ch + sha256_detail::k(t) + wt;
      uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = S0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += hh;
  }

  ZK_HD void update(const uint8_t* data, size_t len) {
    total += len;
    size_t i = 0;
    if (buf_len) {
      while (i < len && buf_len < 64) buf[buf_len++] = data[i++];
      if (buf_len < 64) return;
      compress(h, buf);
      buf_len = 0;
    }
    for (; i + 64 <= len; i += 64) compress(h, data + i);
    while (i < len) buf[buf_len++] = data[i++];
  }

  ZK_HD void update_byte(uint8_t x) { update(&x, 1); }

  // Pads, writes the 32-byte big-endian digest to `out`. The hasher must be reset before reuse.
  ZK_HD void final(uint8_t* out) {
    uint64_t bits = total * 8;
    buf[buf_len++] = 0x80;
    if (buf_len > 56) {
      while (buf_len < 64) buf[buf_len++] = 0;
      compress(h, buf);
      buf_len = 0;
    }
    while (buf_len < 56) buf[buf_len++] = 0;
    ZK_UNROLL
    for (int i = 0; i < 8; ++i) buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(h, buf);
    ZK_UNROLL
    for (int i = 0; i < 8; ++i) {
      out[4 * i] = (uint8_t)(h[i] >> 24);
      out[4 * i + 1] = (uint8_t)(h[i] >> 16);
      out[4 * i + 2] = (uint8_t)(h[i] >> 8);
      out[4 * i + 3] = (uint8_t)h[i];
    }
  }
};

// One-shot digest of `len` bytes.
ZK_HD void sha256(const uint8_t* data, size_t len, uint8_t* out) {
  Sha256 s;
  s.update(data, len);
  s.final(out);
}

}  // namespace zk
