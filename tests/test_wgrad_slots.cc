// The slots of the deferred parameter gradients (core/numerics/wgrad.c,
// find_group). Each parameter's group (keyed by dst, ld, in, out, bias)
// keeps its slot, and the buffers the slot owns, across backwards; one never
// seen before takes a free slot rather than another parameter's; with no
// slot free it takes the next one (evicting that parameter, which takes a
// slot again when it comes back). Whatever the slots do, every backward's
// gradients must be x^T g and the column sums of g over exactly its own
// notes: checked against sums in double and bit for bit against the same
// backward in a fresh context, and unused parameters must stay at zero.
//
// Slots are read through ctx_internal.h (struct layout only). The buffer a
// slot owns in an ordinary backward is a bias group's bias_acc (running
// double sums, allocated on the first note); the weight groups' stages are
// allocated only when SMC's segmented backward streams the notes
// (fivo__wgrad_stage, hidden in libfivo), so they stay NULL here.
#include <gtest/gtest.h>

extern "C" {
#include "ctx_internal.h"
}

#include <fivo/fivo.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Layer {
    fivo_tensor *w = nullptr, *b = nullptr; // b may be NULL
    int in = 0, out = 0;
};

// One backward: layers applied step by step (interleaved, as a model's
// step uses them), each use y = x w + b with loss term sum(y * c), so the
// output gradient is exactly c.
struct Use {
    int layer;
    std::vector<float> x, c;
    int rows;
};

struct Pass {
    std::vector<Use> uses;
};

// Rows of the steps: several parts per group, 1-row ones included.
const int kStepRows[] = {3, 1, 5};

Pass make_pass(const std::vector<Layer> &layers, const std::vector<int> &order, std::mt19937 &g)
{
    std::uniform_real_distribution<float> u(-1, 1);
    Pass p;
    for (int rows : kStepRows)
        for (int l : order) {
            Use use{l, std::vector<float>((size_t)rows * layers[l].in),
                    std::vector<float>((size_t)rows * layers[l].out), rows};
            for (float &v : use.x)
                v = u(g);
            for (float &v : use.c)
                v = u(g);
            p.uses.push_back(std::move(use));
        }
    return p;
}

// Every layer's gradients (w, then b if any), flattened per layer.
using Grads = std::vector<std::vector<float>>;

Grads snapshot(const std::vector<Layer> &layers)
{
    Grads out;
    for (const Layer &l : layers) {
        std::vector<float> v(l.w->grad, l.w->grad + fivo_tensor_size(l.w));
        if (l.b != nullptr)
            v.insert(v.end(), l.b->grad, l.b->grad + fivo_tensor_size(l.b));
        out.push_back(std::move(v));
    }
    return out;
}

// Runs the pass's forward and backward on ctx (reset first) from zeroed
// gradients; returns the gradients.
Grads run_pass(fivo_ctx *ctx, fivo_params *params, const std::vector<Layer> &layers, const Pass &p)
{
    fivo_ctx_reset(ctx);
    fivo_params_zero_grad(params);
    fivo_tensor *loss = nullptr;
    for (const Use &u : p.uses) {
        const Layer &l = layers[u.layer];
        fivo_tensor *x = fivo_tensor_from(ctx, u.rows, l.in, u.x.data());
        fivo_tensor *y = fivo_linear_pre(ctx, x, l.w, l.b, nullptr, false);
        fivo_tensor *c = fivo_tensor_from(ctx, u.rows, l.out, u.c.data());
        fivo_tensor *term = fivo_sum_all(ctx, fivo_mul(ctx, y, c));
        loss = loss != nullptr ? fivo_add(ctx, loss, term) : term;
    }
    fivo_error err{};
    EXPECT_EQ(fivo_ctx_backward(ctx, loss, &err), FIVO_OK) << err.message;
    return snapshot(layers);
}

// The pass's gradients in double (sum, and sum of magnitudes for the
// tolerance), laid out as snapshot().
void reference(const std::vector<Layer> &layers, const Pass &p, Grads *ref_f, std::vector<std::vector<double>> *mag_out)
{
    std::vector<std::vector<double>> sum(layers.size()), mag(layers.size());
    for (size_t i = 0; i < layers.size(); i++) {
        size_t n = (size_t)layers[i].in * layers[i].out + (layers[i].b ? layers[i].out : 0);
        sum[i].assign(n, 0.0);
        mag[i].assign(n, 0.0);
    }
    for (const Use &u : p.uses) {
        const Layer &l = layers[u.layer];
        std::vector<double> &s = sum[u.layer], &m = mag[u.layer];
        for (int r = 0; r < u.rows; r++)
            for (int j = 0; j < l.out; j++) {
                double c = u.c[(size_t)r * l.out + j];
                for (int i = 0; i < l.in; i++) {
                    double v = (double)u.x[(size_t)r * l.in + i] * c;
                    s[(size_t)i * l.out + j] += v;
                    m[(size_t)i * l.out + j] += std::fabs(v);
                }
                if (l.b != nullptr) {
                    s[(size_t)l.in * l.out + j] += c;
                    m[(size_t)l.in * l.out + j] += std::fabs(c);
                }
            }
    }
    ref_f->clear();
    for (auto &s : sum) {
        std::vector<float> f(s.size());
        for (size_t i = 0; i < s.size(); i++)
            f[i] = (float)s[i];
        ref_f->push_back(f);
    }
    *mag_out = std::move(mag);
}

// Gradients of pass p on the long-lived ctx: against the double sums
// (unused layers exactly zero) and bit for bit against a fresh context.
void check_pass(fivo_ctx *ctx, fivo_params *params, const std::vector<Layer> &layers, const Pass &p,
                const std::string &what)
{
    Grads got = run_pass(ctx, params, layers, p);
    Grads ref;
    std::vector<std::vector<double>> mag;
    reference(layers, p, &ref, &mag);
    for (size_t l = 0; l < layers.size(); l++)
        for (size_t i = 0; i < got[l].size(); i++)
            // float products over <= 9 rows per part, the parts summed in
            // float: far below 1e-5 of the magnitudes; a part lost, added
            // twice or added to another parameter is off by about a part
            ASSERT_NEAR(got[l][i], ref[l][i], 1e-5 * mag[l][i])
                << what << ": layer " << l << " gradient value " << i;
    fivo_ctx *fresh = fivo_ctx_new(1 << 20, 0);
    fivo_ctx_set_deferred_grads(fresh, true);
    Grads alone = run_pass(fresh, params, layers, p);
    fivo_ctx_free(fresh);
    for (size_t l = 0; l < layers.size(); l++)
        ASSERT_EQ(0, std::memcmp(got[l].data(), alone[l].data(), got[l].size() * sizeof(float)))
            << what << ": layer " << l << " differs from the same backward in a fresh context";
}

// A slot's key and the buffer it owns, by (dst, bias).
using Key = std::pair<const float *, bool>;

std::map<Key, const double *> slot_buffers(const fivo_ctx *ctx)
{
    std::map<Key, const double *> out;
    for (int i = 0; i < ctx->cap_wg; i++)
        if (ctx->wg[i].dst != nullptr)
            out[{ctx->wg[i].dst, ctx->wg[i].bias}] = ctx->wg[i].bias_acc;
    return out;
}

int free_slots(const fivo_ctx *ctx)
{
    int n = 0;
    for (int i = 0; i < ctx->cap_wg; i++)
        n += ctx->wg[i].dst == nullptr;
    return n;
}

Layer add_layer(fivo_params *params, const std::string &name, int in, int out, bool bias)
{
    Layer l;
    l.in = in;
    l.out = out;
    l.w = fivo_params_add(params, (name + "/w").c_str(), in, out, FIVO_INIT_XAVIER_UNIFORM, nullptr);
    if (bias)
        l.b = fivo_params_add(params, (name + "/b").c_str(), 1, out, FIVO_INIT_ZEROS, nullptr);
    return l;
}

class WgradSlots : public ::testing::Test {
protected:
    void SetUp() override
    {
        params = fivo_params_new(3);
        ctx = fivo_ctx_new(1 << 20, 0);
        fivo_ctx_set_deferred_grads(ctx, true);
    }
    void TearDown() override
    {
        fivo_ctx_free(ctx);
        fivo_params_free(params);
    }
    fivo_params *params = nullptr;
    fivo_ctx *ctx = nullptr;
    std::mt19937 g{5};
};

} // namespace

// A parameter first seen in a later backward (noted first: it is used last)
// takes a free slot: the others keep theirs, with the buffers they own
// (before, it took the first-noted parameter's slot, that one the next's,
// and so on, every bias sum re-allocated).
TEST_F(WgradSlots, NewParameterLeavesTheOthersTheirSlots)
{
    std::vector<Layer> layers = {add_layer(params, "a", 6, 8, true), add_layer(params, "b", 6, 8, true),
                                 add_layer(params, "c", 5, 12, true), add_layer(params, "d", 7, 16, true),
                                 add_layer(params, "new", 6, 40, true)};
    const int kNew = 4;
    check_pass(ctx, params, layers, make_pass(layers, {0, 1, 2, 3}, g), "first backward");
    const std::map<Key, const double *> before = slot_buffers(ctx);
    ASSERT_EQ(before.size(), 8u);
    for (const auto &kv : before) {
        if (kv.first.second) {
            ASSERT_NE(kv.second, nullptr) << "a bias group owns its running sums";
        }
    }

    // the new layer last in the forward: its groups are noted first
    check_pass(ctx, params, layers, make_pass(layers, {0, 1, 2, 3, kNew}, g), "new layer noted first");
    std::map<Key, const double *> after = slot_buffers(ctx);
    EXPECT_EQ(after.size(), 10u);
    for (const auto &kv : before) {
        ASSERT_EQ(after.count(kv.first), 1u) << "a group lost its slot to the new parameter";
        EXPECT_EQ(after[kv.first], kv.second) << "a group's bias sums moved or were re-allocated";
    }
    const std::map<Key, const double *> with_new = after;

    // other orders and a layer left out: every group still has its slot
    check_pass(ctx, params, layers, make_pass(layers, {2, kNew, 0, 3}, g), "reordered, one left out");
    check_pass(ctx, params, layers, make_pass(layers, {3, 2, 1, 0, kNew}, g), "reversed");
    EXPECT_EQ(slot_buffers(ctx), with_new);
}

// More parameters than slots without growing the slot array: the fallback
// (no free slot: the next one's, evicting it) must not mix gradients, in the
// backward that evicts nor in later ones where the evicted come back.
TEST_F(WgradSlots, EvictionWhenNoSlotIsFreeKeepsGradientsRight)
{
    // learn the slot count: the array grows when one more group would
    // leave no spare slot, so a backward of cap - 1 groups leaves one free
    std::vector<Layer> layers = {add_layer(params, "l0", 4, 5, false)};
    check_pass(ctx, params, layers, make_pass(layers, {0}, g), "one group");
    const int cap = ctx->cap_wg;
    ASSERT_GE(cap, 4);
    int groups = 1;
    for (int i = 1; groups < cap - 1; i++) {
        bool bias = groups + 2 <= cap - 1;
        // few distinct shapes: groups differ by dst alone
        layers.push_back(add_layer(params, "l" + std::to_string(i), 3 + i % 3, 4 + i % 2, bias));
        groups += bias ? 2 : 1;
    }
    std::vector<int> all;
    for (size_t i = 0; i < layers.size(); i++)
        all.push_back((int)i);
    check_pass(ctx, params, layers, make_pass(layers, all, g), "every slot but one");
    ASSERT_EQ(ctx->cap_wg, cap);
    ASSERT_EQ(free_slots(ctx), 1) << "the fallback test needs exactly one free slot here";
    std::set<Key> old_keys;
    for (const auto &kv : slot_buffers(ctx))
        old_keys.insert(kv.first);

    // two new layers (4 groups; one free slot) noted first, then old ones
    const int n1 = (int)layers.size(), n2 = n1 + 1;
    layers.push_back(add_layer(params, "n1", 3, 5, true));
    layers.push_back(add_layer(params, "n2", 5, 4, true));
    const Pass mixed = make_pass(layers, {0, 1, 2, 3, n1, n2}, g);
    check_pass(ctx, params, layers, mixed, "new layers, no slot free");
    // more keys than slots and no growth: some slot was taken from another
    ASSERT_EQ(ctx->cap_wg, cap) << "the slot array grew: the fallback was not reached";
    EXPECT_EQ(free_slots(ctx), 0);
    int kept = 0;
    for (const auto &kv : slot_buffers(ctx))
        kept += old_keys.count(kv.first) > 0;
    EXPECT_EQ(kept, cap - 4) << "every slot holds one key: the 4 new ones and cap - 4 old ones";

    // the evicted come back (taking slots again, by the fallback), then
    // the mix again
    check_pass(ctx, params, layers, make_pass(layers, all, g), "evicted groups back");
    ASSERT_EQ(ctx->cap_wg, cap);
    check_pass(ctx, params, layers, make_pass(layers, {n2, 5, n1, 0}, g), "new and old interleaved");
    check_pass(ctx, params, layers, mixed, "the mix once more");
    EXPECT_EQ(ctx->cap_wg, cap);
}
