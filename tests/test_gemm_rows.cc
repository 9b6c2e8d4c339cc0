// Row counts of the tape's products (core/numerics/gemm.c). With libxsmm a
// first chunk of 5..63 rows runs on the kernel of its row count rounded up,
// and a tail chunk (after full chunks of 64) on the 64-row kernel, both on a
// padded copy; that is "same bits" only if every row's result is the same
// whatever kernel (row count) computes it. Checked here: each row of a
// product of m = 1..70 and 130 rows equals, bit for bit, that row computed
// alone (m = 1, the 1-row kernel, no copy). The operands have wider strides
// than the product, with NaN past A's m rows and k columns and past B's k
// rows and n columns (a read that reached a result would show), and C has
// guard rows and columns around its m x n that must come back untouched
// (the padded copy is written back for the product's rows only).
//
// fivo__sgemm is hidden in libfivo, so this test compiles gemm.c itself,
// with libfivo's options and with libxsmm exactly when libfivo has it
// (tests/CMakeLists.txt, which defines FIVO_HAVE_LIBXSMM for it then).
#include <gtest/gtest.h>

extern "C" {
#include "gemm.h"
}

#include <fivo/fivo.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

// gemm.c's arena use (the B^T copies, not taken by the NN products here)
// goes through the public allocator: the same arena, the same slow path.
extern "C" void *fivo__arena_alloc_slow(fivo_ctx *ctx, size_t n) { return fivo_ctx_alloc(ctx, n); }

namespace {

// Extra columns / rows around every operand, filled with sentinels.
constexpr int kPadA = 5, kPadB = 7, kPadC = 3, kGuardRows = 64;
// C outside the product: a finite value no product here makes.
constexpr float kGuard = 1234.5f;

struct Shape {
    int n, k;
};
// Output columns x inner size, as in a model's layers: a hidden layer, an
// odd K, and a wide output that goes through gemm.c's column blocks of
// FIVO_GEMM_BLOCK (from 4 rows on: m n k >= FIVO_GEMM_PARALLEL_MIN).
const Shape kShapes[] = {{256, 216}, {128, 97}, {1024, 75}};

// Every row count a product can have up to 70, and 130: exact kernels
// (1-4, multiples of 4 to 16, of 16 to 64), rounded first chunks, full chunks
// with tails of 1-6 rows, two full chunks and a 2-row tail.
std::vector<int> row_counts()
{
    std::vector<int> ms;
    for (int m = 1; m <= 70; m++)
        ms.push_back(m);
    ms.push_back(130);
    return ms;
}

// A few of each kind, for the slower checks against double sums (run under
// valgrind in CI): exact, rounded to 4, rounded to 16, full, tails.
const std::vector<int> kSomeRowCounts = {1, 2, 4, 5, 7, 8, 13, 16, 17, 31, 32, 33,
                                         47, 63, 64, 65, 66, 70, 130};

uint32_t bits(float x)
{
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// One shape's operands, with strides wider than the product and NaN in the
// gaps and in the rows past the data.
struct Operands {
    int n, k, lda, ldb, ldc, rows;
    std::vector<float> a;      // rows x lda, then kGuardRows NaN rows
    std::vector<float> b;      // k x ldb, then kGuardRows NaN rows
    std::vector<float> c_init; // rows x n, C's values for beta 1

    Operands(const Shape &s, int rows_, std::mt19937 &g)
        : n(s.n), k(s.k), lda(s.k + kPadA), ldb(s.n + kPadB), ldc(s.n + kPadC), rows(rows_)
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::uniform_real_distribution<float> u(-1, 1);
        a.assign((size_t)(rows + kGuardRows) * lda, nan);
        for (int i = 0; i < rows; i++)
            for (int q = 0; q < k; q++)
                a[(size_t)i * lda + q] = u(g);
        b.assign((size_t)(k + kGuardRows) * ldb, nan);
        for (int q = 0; q < k; q++)
            for (int j = 0; j < n; j++)
                b[(size_t)q * ldb + j] = u(g);
        c_init.resize((size_t)rows * n);
        for (float &x : c_init)
            x = u(g);
    }

    // A's first m rows followed by NaN rows, as a caller's buffer would
    // continue past a product's rows.
    std::vector<float> a_rows(int r0, int m) const
    {
        std::vector<float> out((size_t)(m + kGuardRows) * lda, std::numeric_limits<float>::quiet_NaN());
        std::memcpy(out.data(), a.data() + (size_t)r0 * lda, (size_t)m * lda * sizeof(float));
        return out;
    }
};

// C of m rows inside a guarded buffer: one guard row before, kGuardRows
// after, kPadC guard columns per row. beta 1: C starts at c_init's rows;
// beta 0: at NaN, which must not be read.
struct OutBuf {
    int m, n, ldc;
    std::vector<float> buf;

    OutBuf(const Operands &op, int r0, int m_, float beta) : m(m_), n(op.n), ldc(op.ldc)
    {
        buf.assign((size_t)(1 + m + kGuardRows) * ldc, kGuard);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c()[(size_t)i * ldc + j] = beta != 0.0f ? op.c_init[(size_t)(r0 + i) * n + j]
                                                        : std::numeric_limits<float>::quiet_NaN();
    }
    float *c() { return buf.data() + ldc; }
    const float *row(int i) const { return buf.data() + (size_t)(1 + i) * ldc; }

    // Where a guard was overwritten, or "" when none was.
    std::string guard_damage() const
    {
        for (size_t i = 0; i < buf.size(); i++) {
            long r = (long)(i / (size_t)ldc) - 1, j = (long)(i % (size_t)ldc);
            bool inside = r >= 0 && r < m && j < n;
            if (!inside && bits(buf[i]) != bits(kGuard))
                return "C[" + std::to_string(r) + "][" + std::to_string(j) + "] = " +
                       std::to_string(buf[i]);
        }
        return "";
    }
};

void product(fivo_ctx *ctx, const Operands &op, const std::vector<float> &a, int m, float beta,
             OutBuf &out)
{
    fivo__sgemm(ctx, false, false, m, op.n, op.k, a.data(), op.lda, op.b.data(), op.ldb, beta, out.c(),
                op.ldc);
}

class GemmRows : public ::testing::Test {
protected:
    void SetUp() override { ctx = fivo_ctx_new(1 << 20, 0); }
    void TearDown() override { fivo_ctx_free(ctx); }
    fivo_ctx *ctx = nullptr;
};

} // namespace

// The property the row rounding stands on: a row's result does not depend
// on how many rows the kernel computes, nor on the rows around it.
TEST_F(GemmRows, EveryRowEqualsItsOneRowProduct)
{
#ifndef FIVO_HAVE_LIBXSMM
    GTEST_SKIP() << "built without libxsmm: every product goes to OpenBLAS, which has no row "
                    "rounding (the padded 4/16/64-row kernels exist only on gemm.c's libxsmm path)";
#endif
    std::mt19937 g(7);
    const std::vector<int> ms = row_counts();
    for (const Shape &s : kShapes) {
        Operands op(s, 130, g);
        for (float beta : {0.0f, 1.0f}) {
            // every row alone: the 1-row kernel, no padded copy
            std::vector<std::vector<float>> alone(op.rows);
            for (int r = 0; r < op.rows; r++) {
                OutBuf one(op, r, 1, beta);
                product(ctx, op, op.a_rows(r, 1), 1, beta, one);
                ASSERT_EQ(one.guard_damage(), "") << "n " << s.n << " k " << s.k << " row " << r;
                alone[r].assign(one.row(0), one.row(0) + s.n);
            }
            for (int m : ms) {
                OutBuf out(op, 0, m, beta);
                product(ctx, op, op.a_rows(0, m), m, beta, out);
                ASSERT_EQ(out.guard_damage(), "")
                    << "n " << s.n << " k " << s.k << " m " << m << " beta " << beta;
                for (int r = 0; r < m; r++) {
                    if (std::memcmp(out.row(r), alone[r].data(), sizeof(float) * s.n) == 0)
                        continue;
                    int j = 0;
                    while (bits(out.row(r)[j]) == bits(alone[r][j]))
                        j++;
                    FAIL() << "n " << s.n << " k " << s.k << " m " << m << " beta " << beta << ": row "
                           << r << " column " << j << " is " << out.row(r)[j] << " (0x" << std::hex
                           << bits(out.row(r)[j]) << "), alone 0x" << bits(alone[r][j]) << std::dec
                           << " = " << alone[r][j];
                }
            }
            ASSERT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_OK);
        }
    }
}

// With or without libxsmm: the values are the product's (against double
// sums, on every 5th column and some row counts to keep it quick), nothing past the operands'
// rows and columns is read, nothing outside C's m x n is written.
TEST_F(GemmRows, StridedProductsMatchReferenceAndKeepGuards)
{
    std::mt19937 g(11);
    const std::vector<int> &ms = kSomeRowCounts;
    for (const Shape &s : kShapes) {
        Operands op(s, 130, g);
        for (float beta : {0.0f, 1.0f}) {
            // sum and sum of magnitudes in double, per row and sampled column
            std::vector<double> ref((size_t)op.rows * s.n), mag((size_t)op.rows * s.n);
            for (int r = 0; r < op.rows; r++)
                for (int j = r % 5; j < s.n; j += 5) {
                    double sum = beta != 0.0f ? op.c_init[(size_t)r * s.n + j] : 0.0, abs = std::fabs(sum);
                    for (int q = 0; q < s.k; q++) {
                        double p = (double)op.a[(size_t)r * op.lda + q] * op.b[(size_t)q * op.ldb + j];
                        sum += p;
                        abs += std::fabs(p);
                    }
                    ref[(size_t)r * s.n + j] = sum;
                    mag[(size_t)r * s.n + j] = abs;
                }
            for (int m : ms) {
                OutBuf out(op, 0, m, beta);
                product(ctx, op, op.a_rows(0, m), m, beta, out);
                ASSERT_EQ(out.guard_damage(), "")
                    << "n " << s.n << " k " << s.k << " m " << m << " beta " << beta;
                for (int r = 0; r < m; r++)
                    for (int j = r % 5; j < s.n; j += 5) {
                        size_t i = (size_t)r * s.n + j;
                        // float rounding of k <= 216 products; a wrong row or
                        // column is off by about the magnitude itself
                        ASSERT_NEAR(out.row(r)[j], ref[i], 1e-5 * mag[i] + 1e-30)
                            << "n " << s.n << " k " << s.k << " m " << m << " beta " << beta << " C["
                            << r << "][" << j << "]";
                    }
            }
        }
    }
    EXPECT_EQ(fivo_ctx_status(ctx, nullptr), FIVO_OK);
}
