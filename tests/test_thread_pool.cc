// The pool's shared products (fivo_threads_run_helped, fivo_threads_share):
// outside a helped run a share runs in order on the caller; inside one, an
// idle thread serves the pieces a running piece posts; every piece runs
// exactly once whoever runs it, with many posters at once.
#include <gtest/gtest.h>

#include <fivo/internal/threads.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {

TEST(ThreadPool, ShareOutsideAHelpedRunRunsInOrderOnTheCaller)
{
    fivo_threads *p = fivo_threads_new(2, nullptr);
    ASSERT_NE(p, nullptr);
    struct Log {
        std::vector<int> order;
        std::thread::id caller = std::this_thread::get_id();
        bool elsewhere = false;
    } log;
    auto piece = [](void *arg, int i) {
        Log *l = static_cast<Log *>(arg);
        l->order.push_back(i);
        l->elsewhere = l->elsewhere || std::this_thread::get_id() != l->caller;
    };
    fivo_threads_share(p, 9, piece, &log);
    // after a helped run has ended too: no thread is serving the board
    fivo_threads_run_helped(p, 2, [](void *, int) {}, nullptr);
    fivo_threads_share(p, 9, piece, &log);
    fivo_threads_share(nullptr, 9, piece, &log);
    ASSERT_EQ(log.order.size(), 27u);
    for (size_t k = 0; k < log.order.size(); k++)
        EXPECT_EQ(log.order[k], (int)(k % 9));
    EXPECT_FALSE(log.elsewhere);
    fivo_threads_free(p);
}

// Piece 0 of a helped run posts a product of 64 pieces; the poster's own
// pieces wait (up to 20 s) until another thread has run one. Without
// helping the other threads would sit idle and this times out.
struct Posted {
    std::atomic<int> hits[64];
    std::atomic<bool> helped{false};
    std::atomic<int> poster_id{-1};
    std::atomic<int> next_id{0};
    fivo_threads *pool = nullptr;
};

thread_local int tls_id = -1;

int thread_id(Posted *s)
{
    if (tls_id < 0)
        tls_id = s->next_id.fetch_add(1);
    return tls_id;
}

void posted_piece(void *arg, int i)
{
    Posted *s = static_cast<Posted *>(arg);
    s->hits[i].fetch_add(1);
    if (thread_id(s) != s->poster_id.load()) {
        s->helped.store(true);
        return;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!s->helped.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
}

void outer_piece(void *arg, int i)
{
    Posted *s = static_cast<Posted *>(arg);
    if (i != 0)
        return;
    s->poster_id.store(thread_id(s));
    fivo_threads_share(s->pool, 64, posted_piece, s);
}

TEST(ThreadPool, IdleThreadsServeAPostedProduct)
{
    for (int n : {2, 3}) {
        tls_id = -1;
        Posted s;
        for (auto &h : s.hits)
            h.store(0);
        s.pool = fivo_threads_new(n, nullptr);
        ASSERT_NE(s.pool, nullptr);
        fivo_threads_run_helped(s.pool, n, outer_piece, &s);
        EXPECT_TRUE(s.helped.load()) << n << " threads: no idle thread took a posted piece";
        for (auto &h : s.hits)
            EXPECT_EQ(h.load(), 1);
        fivo_threads_free(s.pool);
    }
}

// Every outer piece posts three products at once with the others; each
// shared piece writes its own output. 300 runs on 3 threads: every output
// exactly once, and the pool is reusable for plain runs in between.
struct Many {
    fivo_threads *pool;
    std::vector<std::atomic<int>> hits;
    explicit Many(size_t n) : hits(n) {}
};

struct Product {
    Many *m;
    int base;
};

void product_piece(void *arg, int i)
{
    Product *p = static_cast<Product *>(arg);
    p->m->hits[p->base + i].fetch_add(1);
}

constexpr int kOuter = 6, kPer = 3, kMaxPieces = 40;

void many_outer(void *arg, int i)
{
    Many *m = static_cast<Many *>(arg);
    for (int j = 0; j < kPer; j++) {
        Product p{m, (i * kPer + j) * kMaxPieces};
        fivo_threads_share(m->pool, 1 + (i * 7 + j * 13) % kMaxPieces, product_piece, &p);
    }
}

TEST(ThreadPool, ManyPostersEveryPieceOnce)
{
    Many m(kOuter * kPer * kMaxPieces);
    m.pool = fivo_threads_new(3, nullptr);
    ASSERT_NE(m.pool, nullptr);
    for (int rep = 0; rep < 300; rep++) {
        for (auto &h : m.hits)
            h.store(0);
        fivo_threads_run_helped(m.pool, kOuter, many_outer, &m);
        for (int i = 0; i < kOuter; i++)
            for (int j = 0; j < kPer; j++) {
                int n = 1 + (i * 7 + j * 13) % kMaxPieces, base = (i * kPer + j) * kMaxPieces;
                for (int k = 0; k < kMaxPieces; k++)
                    ASSERT_EQ(m.hits[base + k].load(), k < n ? 1 : 0)
                        << "rep " << rep << ", outer " << i << ", product " << j << ", piece " << k;
            }
        std::vector<int> plain(17, 0);
        fivo_threads_run(m.pool, 17, [](void *arg, int k) { ((int *)arg)[k]++; }, plain.data());
        for (int h : plain)
            ASSERT_EQ(h, 1);
    }
    fivo_threads_free(m.pool);
}

} // namespace
