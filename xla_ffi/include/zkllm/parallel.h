#pragma once
// Host-side data parallelism for the CPU handlers: contiguous chunks on std::threads. Small
// inputs run inline, since starting a thread costs about as much as a few hundred field ops.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace zk {

inline unsigned host_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// Calls fn(begin, end) on disjoint chunks covering [0, n).
template <class Fn>
void parallel_chunks(size_t n, size_t min_chunk, Fn fn) {
  size_t workers = std::min<size_t>(host_threads(), (n + min_chunk - 1) / std::max<size_t>(min_chunk, 1));
  if (workers <= 1) {
    if (n) fn(size_t{0}, n);
    return;
  }
  size_t chunk = (n + workers - 1) / workers;
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (size_t w = 1; w < workers; ++w) {
    size_t b = w * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([=] { fn(b, e); });
  }
  fn(size_t{0}, std::min(n, chunk));
  for (auto& t : pool) t.join();
}

template <class Fn>
void parallel_for(size_t n, size_t min_chunk, Fn fn) {
  parallel_chunks(n, min_chunk, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) fn(i);
  });
}

// Calls fn(i) for i in [0, n) with items handed out one at a time: for few, uneven items (MSM
// windows, rows) where contiguous chunks would leave a thread idle.
template <class Fn>
void parallel_dynamic(size_t n, Fn fn) {
  size_t workers = std::min<size_t>(host_threads(), n);
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace zk
