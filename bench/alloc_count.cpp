// Heap-allocation counter for the benchmark (bench/static.sh), preloaded into the process under
// test:
//
//   SWITCHYARD_ALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=build/bench/liballoc_count.so switchyard ...
//   kill -s RTMIN+3 <pid>    # (over)writes the counts so far to the file
//
// A real-time signal (SIGRTMIN+3, or SWITCHYARD_ALLOC_COUNT_SIGNAL=<number>): nginx takes USR1,
// USR2, HUP, WINCH and the like for itself, and would replace the handler.
//
// Counts every malloc, calloc, realloc, aligned/memalign and posix_memalign call (C++'s operator
// new allocates through malloc, so it is counted there, once), in total and per thread (the
// first 128 threads that allocate). Two dumps around a run of N requests give the allocations
// per request: (allocs2 - allocs1) / N. The real allocator is glibc's own (__libc_malloc & co.),
// so counting adds a few ns per call and never recurses through dlsym.
//
// The file is written from the signal handler with write(2) and hand-formatted integers only
// (async-signal-safe); it lists "total allocs=A frees=F bytes=B" and then one
// "thread tid=T allocs=A bytes=B" line per thread.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {

constexpr int max_threads = 128;

struct thread_counts {
  std::atomic<long> tid{0};
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> bytes{0};
};

std::atomic<std::uint64_t> total_allocs{0};
std::atomic<std::uint64_t> total_frees{0};
std::atomic<std::uint64_t> total_bytes{0};
thread_counts threads[max_threads];
std::atomic<int> threads_used{0};
// initial-exec: the library is loaded at start (LD_PRELOAD), so its thread-locals sit in the
// static TLS block and reading them never calls malloc (which would recurse here).
__attribute__((tls_model("initial-exec"))) thread_local thread_counts* mine = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local bool no_slot = false;

void count(std::size_t bytes) {
  total_allocs.fetch_add(1, std::memory_order_relaxed);
  total_bytes.fetch_add(bytes, std::memory_order_relaxed);
  if (mine == nullptr && !no_slot) {
    const int i = threads_used.fetch_add(1, std::memory_order_relaxed);
    if (i < max_threads) {
      mine = &threads[i];
      mine->tid.store(static_cast<long>(syscall(SYS_gettid)), std::memory_order_relaxed);
    } else {
      no_slot = true;
    }
  }
  if (mine != nullptr) {
    mine->allocs.fetch_add(1, std::memory_order_relaxed);
    mine->bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

// Appends `text` then the decimal `v` to buf at *len (no libc formatting: signal-safe).
void put(char* buf, std::size_t& len, const char* text, std::uint64_t v) {
  for (; *text != '\0'; ++text) {
    buf[len++] = *text;
  }
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) {
    buf[len++] = digits[--n];
  }
}

char dump_path[4096] = {};

void dump(int) {
  const int saved_errno = errno;
  const char* path = dump_path;
  static char buf[max_threads * 80 + 128];
  std::size_t len = 0;
  put(buf, len, "total allocs=", total_allocs.load(std::memory_order_relaxed));
  put(buf, len, " frees=", total_frees.load(std::memory_order_relaxed));
  put(buf, len, " bytes=", total_bytes.load(std::memory_order_relaxed));
  buf[len++] = '\n';
  const int used = threads_used.load(std::memory_order_relaxed);
  for (int i = 0; i < used && i < max_threads; ++i) {
    put(buf, len, "thread tid=", static_cast<std::uint64_t>(threads[i].tid.load()));
    put(buf, len, " allocs=", threads[i].allocs.load(std::memory_order_relaxed));
    put(buf, len, " bytes=", threads[i].bytes.load(std::memory_order_relaxed));
    buf[len++] = '\n';
  }
  // Written to a temporary name and renamed: a reader never sees half a dump.
  char tmp[4096];
  const std::size_t plen = strnlen(path, sizeof tmp - 8);
  std::memcpy(tmp, path, plen);
  std::memcpy(tmp + plen, ".part", 6);
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    std::size_t off = 0;
    while (off < len) {
      const ssize_t w = write(fd, buf + off, len - off);
      if (w <= 0) {
        break;
      }
      off += static_cast<std::size_t>(w);
    }
    close(fd);
    rename(tmp, path);
  }
  errno = saved_errno;
}

__attribute__((constructor)) void install() {
  // Read now: some programs (nginx) clear their environment at start.
  const char* path = getenv("SWITCHYARD_ALLOC_COUNT_FILE");
  if (path == nullptr) {
    path = "alloc_count.txt";
  }
  std::strncpy(dump_path, path, sizeof dump_path - 1);
  struct sigaction sa {};
  sa.sa_handler = dump;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  const char* sig = getenv("SWITCHYARD_ALLOC_COUNT_SIGNAL");
  sigaction(sig != nullptr ? atoi(sig) : SIGRTMIN + 3, &sa, nullptr);
}

}  // namespace

// noexcept: glibc declares these __THROW (noexcept in C++); the definitions must match.
extern "C" {

void* malloc(std::size_t n) noexcept {
  count(n);
  return __libc_malloc(n);
}

void* calloc(std::size_t k, std::size_t n) noexcept {
  count(k * n);
  return __libc_calloc(k, n);
}

void* realloc(void* p, std::size_t n) noexcept {
  count(n);
  return __libc_realloc(p, n);
}

void free(void* p) noexcept {
  if (p != nullptr) {
    total_frees.fetch_add(1, std::memory_order_relaxed);
  }
  __libc_free(p);
}

void* memalign(std::size_t align, std::size_t n) noexcept {
  count(n);
  return __libc_memalign(align, n);
}

void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  count(n);
  return __libc_memalign(align, n);
}

int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) {
    return EINVAL;
  }
  count(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) {
    return ENOMEM;
  }
  *out = p;
  return 0;
}

}  // extern "C"
