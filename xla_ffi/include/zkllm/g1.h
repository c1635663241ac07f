#pragma once
// BLS12-381 G1 (y^2 = x^3 + 4 over Fp) in Jacobian, XYZZ and affine coordinates.
//
// Jacobian (X, Y, Z) represents (X/Z^2, Y/Z^3); Z = 0 is the identity. It is the storage format
// (uint32[..., 3, 12]). XYZZ (X, Y, ZZ, ZZZ) with x = X/ZZ, y = Y/ZZZ is used for MSM buckets:
// a mixed addition costs 8M + 2S there against 7M + 4S in Jacobian and needs no doubling detour.
// Formulas: the Explicit-Formulas Database, add-2007-bl, madd-2007-bl, dbl-2009-l (Jacobian),
// madd-2008-s, add-2008-s, dbl-2008-s-1 (XYZZ).
#include "zkllm/field.h"

namespace zk {

struct G1Affine {
  Fp x, y;
  bool inf;
};

struct G1 {  // Jacobian
  Fp x, y, z;

  ZK_HD static G1 identity() { return G1{Fp::one(), Fp::one(), Fp::zero()}; }
  ZK_HD static G1 generator() {
    G1 g;
    ZK_UNROLL
    for (int i = 0; i < 12; ++i) {
      g.x.v[i] = consts::g1_gen(0, i);
      g.y.v[i] = consts::g1_gen(1, i);
    }
    g.z = Fp::one();
    return g;
  }
  ZK_HD static G1 load(const uint32_t* p) {
    return G1{Fp::load(p), Fp::load(p + 12), Fp::load(p + 24)};
  }
  ZK_HD void store(uint32_t* p) const {
    x.store(p);
    y.store(p + 12);
    z.store(p + 24);
  }
  ZK_HD static G1 from_affine(const G1Affine& a) {
    return a.inf ? identity() : G1{a.x, a.y, Fp::one()};
  }
  ZK_HD bool is_identity() const { return z.is_zero(); }

  ZK_HD G1 dbl() const {
    if (is_identity()) return *this;
    Fp a = x.sqr(), b = y.sqr(), c = b.sqr();
    Fp d = ((x + b).sqr() - a - c).dbl();
    Fp e = a.dbl() + a, f = e.sqr();
    G1 r;
    r.x = f - d.dbl();
    Fp c8 = c.dbl().dbl().dbl();
    r.y = e * (d - r.x) - c8;
    r.z = (y * z).dbl();
    return r;
  }

  ZK_HD G1 operator+(const G1& q) const {
    if (is_identity()) return q;
    if (q.is_identity()) return *this;
    Fp z1z1 = z.sqr(), z2z2 = q.z.sqr();
    Fp u1 = x * z2z2, u2 = q.x * z1z1;
    Fp s1 = y * q.z * z2z2, s2 = q.y * z * z1z1;
    Fp h = u2 - u1, rr = (s2 - s1).dbl();
    if (h.is_zero()) return rr.is_zero() ? dbl() : identity();
    Fp i = h.dbl().sqr(), j = h * i, v = u1 * i;
    G1 r;
    r.x = rr.sqr() - j - v.dbl();
    r.y = rr * (v - r.x) - (s1 * j).dbl();
    r.z = ((z + q.z).sqr() - z1z1 - z2z2) * h;
    return r;
  }
  ZK_HD G1 operator-() const { return G1{x, -y, z}; }
  ZK_HD G1 operator-(const G1& q) const { return *this + (-q); }

  ZK_HD G1 add_affine(const G1Affine& q) const {
    if (q.inf) return *this;
    if (is_identity()) return from_affine(q);
    Fp z1z1 = z.sqr();
    Fp u2 = q.x * z1z1, s2 = q.y * z * z1z1;
    Fp h = u2 - x, rr = (s2 - y).dbl();
    if (h.is_zero()) return rr.is_zero() ? dbl() : identity();
    Fp hh = h.sqr(), i = hh.dbl().dbl(), j = h * i, v = x * i;
    G1 r;
    r.x = rr.sqr() - j - v.dbl();
    r.y = rr * (v - r.x) - (y * j).dbl();
    r.z = (z + h).sqr() - z1z1 - hh;
    return r;
  }

  // Double-and-add over a little-endian scalar of `nlimbs` 32-bit limbs (plain integer).
  ZK_HD G1 mul_limbs(const uint32_t* k, int nlimbs) const {
    G1 acc = identity();
    for (int i = nlimbs - 1; i >= 0; --i) {
      for (int b = 31; b >= 0; --b) {
        acc = acc.dbl();
        if ((k[i] >> b) & 1) acc = acc + *this;
      }
    }
    return acc;
  }

  // Equality of the represented points (cross-multiplied, no inversion).
  ZK_HD bool operator==(const G1& q) const {
    if (is_identity() || q.is_identity()) return is_identity() && q.is_identity();
    Fp z1z1 = z.sqr(), z2z2 = q.z.sqr();
    return x * z2z2 == q.x * z1z1 && y * q.z * z2z2 == q.y * z * z1z1;
  }

  // On the curve (identity included): Y^2 = X^3 + 4 Z^6.
  ZK_HD bool on_curve() const {
    if (is_identity()) return true;
    Fp z2 = z.sqr(), z6 = z2.sqr() * z2;
    Fp b;
    ZK_UNROLL
    for (int i = 0; i < 12; ++i) b.v[i] = consts::sswu(4, i);
    return y.sqr() == x.sqr() * x + b * z6;
  }

  // Affine coordinates with one inversion; use batch normalisation for arrays.
  ZK_HD G1Affine to_affine() const {
    if (is_identity()) return G1Affine{Fp::zero(), Fp::zero(), true};
    Fp zi = z.inv(), zi2 = zi.sqr();
    return G1Affine{x * zi2, y * zi2 * zi, false};
  }
};

// r·P == O, the prime-order subgroup check (a plain scalar multiplication by r).
ZK_HD bool in_subgroup(const G1& p) {
  uint32_t r[8];
  ZK_UNROLL
  for (int i = 0; i < 8; ++i) r[i] = consts::fr_order(i);
  return p.mul_limbs(r, 8).is_identity();
}

struct G1XYZZ {
  Fp x, y, zz, zzz;

  ZK_HD static G1XYZZ identity() { return G1XYZZ{Fp::one(), Fp::one(), Fp::zero(), Fp::zero()}; }
  ZK_HD bool is_identity() const { return zz.is_zero(); }

  ZK_HD G1XYZZ dbl() const {
    if (is_identity()) return *this;
    Fp u = y.dbl(), v = u.sqr(), w = u * v, s = x * v;
    Fp xx = x.sqr(), m = xx.dbl() + xx;
    G1XYZZ r;
    r.x = m.sqr() - s.dbl();
    r.y = m * (s - r.x) - w * y;
    r.zz = v * zz;
    r.zzz = w * zzz;
    return r;
  }

  ZK_HD G1XYZZ add_affine(const G1Affine& q) const {
    if (q.inf) return *this;
    if (is_identity()) return G1XYZZ{q.x, q.y, Fp::one(), Fp::one()};
    Fp u2 = q.x * zz, s2 = q.y * zzz;
    Fp p = u2 - x, rr = s2 - y;
    if (p.is_zero()) {
      if (!rr.is_zero()) return identity();
      // Doubling of the affine point (dbl-2008-s-1 with ZZ = ZZZ = 1).
      Fp u = q.y.dbl(), v = u.sqr(), w = u * v, s = q.x * v;
      Fp xx = q.x.sqr(), m = xx.dbl() + xx;
      G1XYZZ r;
      r.x = m.sqr() - s.dbl();
      r.y = m * (s - r.x) - w * q.y;
      r.zz = v;
      r.zzz = w;
      return r;
    }
    Fp pp = p.sqr(), ppp = p * pp, qq = x * pp;
    G1XYZZ r;
    r.x = rr.sqr() - ppp - qq.dbl();
    r.y = rr * (qq - r.x) - y * ppp;
    r.zz = zz * pp;
    r.zzz = zzz * ppp;
    return r;
  }
  ZK_HD G1XYZZ sub_affine(const G1Affine& q) const {
    return add_affine(G1Affine{q.x, -q.y, q.inf});
  }

  ZK_HD G1XYZZ operator+(const G1XYZZ& q) const {
    if (is_identity()) return q;
    if (q.is_identity()) return *this;
    Fp u1 = x * q.zz, u2 = q.x * zz, s1 = y * q.zzz, s2 = q.y * zzz;
    Fp p = u2 - u1, rr = s2 - s1;
    if (p.is_zero()) return rr.is_zero() ? dbl() : identity();
    Fp pp = p.sqr(), ppp = p * pp, qq = u1 * pp;
    G1XYZZ r;
    r.x = rr.sqr() - ppp - qq.dbl();
    r.y = rr * (qq - r.x) - s1 * ppp;
    r.zz = zz * q.zz * pp;
    r.zzz = zzz * q.zzz * ppp;
    return r;
  }

  // Any nonzero Z_J gives a Jacobian form with X_J = x·Z_J^2, Y_J = y·Z_J^3. Z_J = ZZ·ZZZ avoids
  // an inversion: X_J = X·ZZ·ZZZ^2 and Y_J = Y·ZZ^3·ZZZ^2.
  ZK_HD G1 to_jacobian() const {
    if (is_identity()) return G1::identity();
    Fp zj = zzz * zz;
    Fp zzz2 = zzz.sqr();
    Fp xj = x * zz * zzz2;
    Fp yj = y * zzz2 * zz.sqr() * zz;
    return G1{xj, yj, zj};
  }
};

}  // namespace zk
