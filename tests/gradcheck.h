// Finite-difference gradient checking for the tape (shared by test_autodiff
// and test_layers). The forward runs in float; the loss sum(out_k * W_k) with
// fixed random W_k is formed in double from the outputs, so outputs that a
// perturbation does not touch cancel exactly in the central difference.
#pragma once

#include <fivo/fivo.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace gc {

struct Input {
    int rows, cols;
    std::vector<float> v;
    bool grad = true;
};

inline Input random_input(std::mt19937 &g, int rows, int cols, float lo = -1.5f, float hi = 1.5f)
{
    std::uniform_real_distribution<float> u(lo, hi);
    Input in{rows, cols, std::vector<float>((size_t)rows * cols)};
    for (auto &x : in.v)
        x = u(g);
    return in;
}

// Keeps values at least `gap` away from `kink` (for relu, clamp, ...).
inline void avoid(Input &in, float kink, float gap)
{
    for (auto &x : in.v)
        if (std::fabs(x - kink) < gap)
            x = x >= kink ? kink + gap : kink - gap;
}

using Fn = std::function<std::vector<fivo_tensor *>(fivo_ctx *, const std::vector<fivo_tensor *> &)>;

struct Result {
    double max_err = 0; // max |a - n| / max(floor, |a|, |n|)
    std::string where;
    int checked = 0;
};

class Checker {
public:
    Checker(fivo_ctx *ctx, std::vector<Input> inputs, std::vector<fivo_tensor *> params, Fn fn)
        : ctx_(ctx), in_(std::move(inputs)), params_(std::move(params)), fn_(std::move(fn)) {}

    // Returns the worst relative error over every input and parameter value.
    Result run(double h, double floor)
    {
        Result res;
        std::vector<std::vector<double>> analytic = analytic_grads();
        for (size_t i = 0; i < in_.size(); i++) {
            if (!in_[i].grad)
                continue;
            for (size_t k = 0; k < in_[i].v.size(); k++) {
                float old = in_[i].v[k];
                in_[i].v[k] = old + (float)h;
                double lp = loss();
                in_[i].v[k] = old - (float)h;
                double lm = loss();
                in_[i].v[k] = old;
                double hh = ((double)(old + (float)h) - (double)(old - (float)h));
                note(res, analytic[i][k], (lp - lm) / hh, floor, "input " + std::to_string(i) + "[" + std::to_string(k) + "]");
            }
        }
        for (size_t p = 0; p < params_.size(); p++) {
            fivo_tensor *t = params_[p];
            for (size_t k = 0; k < fivo_tensor_size(t); k++) {
                float old = t->data[k];
                t->data[k] = old + (float)h;
                double lp = loss();
                t->data[k] = old - (float)h;
                double lm = loss();
                t->data[k] = old;
                double hh = ((double)(old + (float)h) - (double)(old - (float)h));
                note(res, analytic[in_.size() + p][k], (lp - lm) / hh, floor,
                     "param " + std::to_string(p) + "[" + std::to_string(k) + "]");
            }
        }
        return res;
    }

    fivo_status status = FIVO_OK;

private:
    std::vector<fivo_tensor *> leaves(bool grad)
    {
        std::vector<fivo_tensor *> ls;
        for (auto &in : in_) {
            fivo_tensor *t = fivo_tensor_from(ctx_, in.rows, in.cols, in.v.data());
            if (grad && in.grad)
                t->flags |= FIVO_TENSOR_REQUIRES_GRAD;
            ls.push_back(t);
        }
        return ls;
    }

    void make_weights(const std::vector<fivo_tensor *> &outs)
    {
        if (!w_.empty())
            return;
        std::mt19937 g(1234);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (auto *o : outs) {
            std::vector<float> w(fivo_tensor_size(o));
            for (auto &x : w)
                x = u(g);
            w_.push_back(w);
        }
    }

    double loss()
    {
        fivo_ctx_reset(ctx_);
        bool was = fivo_ctx_grad_enabled(ctx_);
        fivo_ctx_set_grad_enabled(ctx_, false);
        auto outs = fn_(ctx_, leaves(false));
        fivo_ctx_set_grad_enabled(ctx_, was);
        make_weights(outs);
        double s = 0;
        for (size_t k = 0; k < outs.size(); k++)
            for (size_t i = 0; i < fivo_tensor_size(outs[k]); i++)
                s += (double)outs[k]->data[i] * w_[k][i];
        return s;
    }

    std::vector<std::vector<double>> analytic_grads()
    {
        for (auto *p : params_)
            std::fill(p->grad, p->grad + fivo_tensor_size(p), 0.0f);
        fivo_ctx_reset(ctx_);
        auto ls = leaves(true);
        auto outs = fn_(ctx_, ls);
        make_weights(outs);
        fivo_tensor *total = nullptr;
        for (size_t k = 0; k < outs.size(); k++) {
            fivo_tensor *w = fivo_tensor_from(ctx_, outs[k]->rows, outs[k]->cols, w_[k].data());
            fivo_tensor *l = fivo_sum_all(ctx_, fivo_mul(ctx_, outs[k], w));
            total = total ? fivo_add(ctx_, total, l) : l;
        }
        fivo_error err;
        status = fivo_ctx_backward(ctx_, total, &err);
        std::vector<std::vector<double>> g;
        for (size_t i = 0; i < ls.size(); i++) {
            std::vector<double> v(in_[i].v.size(), 0.0);
            if (ls[i]->grad)
                for (size_t k = 0; k < v.size(); k++)
                    v[k] = ls[i]->grad[k];
            g.push_back(v);
        }
        for (auto *p : params_)
            g.emplace_back(p->grad, p->grad + fivo_tensor_size(p));
        return g;
    }

    static void note(Result &r, double a, double n, double floor, const std::string &where)
    {
        double e = std::fabs(a - n) / std::max(floor, std::max(std::fabs(a), std::fabs(n)));
        if (!(e <= r.max_err)) { // also catches NaN
            r.max_err = std::isnan(e) ? INFINITY : e;
            r.where = where + ": tape " + std::to_string(a) + " vs numeric " + std::to_string(n);
        }
        r.checked++;
    }

    fivo_ctx *ctx_;
    std::vector<Input> in_;
    std::vector<fivo_tensor *> params_;
    Fn fn_;
    std::vector<std::vector<float>> w_;
};

} // namespace gc
