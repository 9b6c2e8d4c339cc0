#!/usr/bin/env python3
"""An independent numpy re-implementation of the SRNN ELBO (1 particle,
filtering or smoothing res_q proposal, Bernoulli emission), after the
reference (tensorflow/models research/fivo/fivo/models/srnn.py, base.py):

  h_t   = LSTM(data_encoder(x_{t-1}))_t        forward, from the zero state
  p(z_t | h_t, z_{t-1})  Normal MLP on [h_t, latent_encoder(z_{t-1})]
  q(z_t | ...)           res_q Normal MLP on [h_t, latent_encoder(z_{t-1}), e_t]
      filtering: e_t = data_encoder(x_t)
      smoothing: e_t = reverse LSTM over [h, data_encoder(x)] read backwards
                 within each sequence's length (tf.reverse_sequence), put
                 back in time order
  p(x_t | z_t, h_t)      Bernoulli MLP on [latent_encoder(z_t), h_t]

Usage: xcheck_srnn.py CHECKPOINT DUMP [MUTATION]

The checkpoint and dump readers are xcheck_vrnn.py's (same files). MUTATION
(for the test that this check can fail): "prior_without_z" feeds the prior
zeros for z_{t-1}; "rev_inputs_swapped" feeds the reverse LSTM [enc(x), h].
Prints one JSON object as xcheck_vrnn.py does.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xcheck_vrnn import MLP, normal_log_prob, read_checkpoint, read_dump, sigmoid, softplus  # noqa: E402


class LSTM:
    """tf.nn.rnn_cell.LSTMCell: [x, h] @ kernel + bias -> i, j, f, o; forget bias 1."""

    def __init__(self, params, prefix):
        self.kernel = params[prefix + "/kernel"]
        self.bias = params[prefix + "/bias"][0]
        self.R = self.kernel.shape[1] // 4

    def step(self, x, h, c):
        a = np.concatenate([x, h], axis=1) @ self.kernel + self.bias
        i, j, f, o = np.split(a, 4, axis=1)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        return sigmoid(o) * np.tanh(c), c

    def run(self, xs):
        """xs [T, B, in] -> outputs [T, B, R] from the zero state."""
        T, B, _ = xs.shape
        h = np.zeros((B, self.R))
        c = np.zeros((B, self.R))
        out = np.zeros((T, B, self.R))
        for t in range(T):
            h, c = self.step(xs[t], h, c)
            out[t] = h
        return out


def reverse_sequence(x, lengths):
    """tf.reverse_sequence(seq_axis=0, batch_axis=1): the first lengths[b]
    steps of column b reversed, the rest in place."""
    y = x.copy()
    for b, L in enumerate(lengths):
        y[:L, b] = x[:L, b][::-1]
    return y


class SRNN:
    RAW_SIGMA_BIAS = 0.5
    SIGMA_MIN = 0.0

    def __init__(self, params, mutation):
        self.data_encoder = MLP(params, "srnn/data_encoder")
        self.latent_encoder = MLP(params, "srnn/latent_encoder")
        self.prior = MLP(params, "srnn/prior")
        self.proposal = MLP(params, "srnn/proposal")
        self.emission = MLP(params, "srnn/emission")
        self.lstm = LSTM(params, "srnn/lstm")
        self.rev = LSTM(params, "srnn/rev_lstm") if "srnn/rev_lstm/kernel" in params else None
        self.El = self.latent_encoder.layers[-1][0].shape[1]
        self.mutation = mutation

    def normal_head(self, out):
        mu, raw = np.split(out, 2, axis=1)
        return mu, np.maximum(softplus(raw + self.RAW_SIGMA_BIAS), self.SIGMA_MIN)

    def elbo(self, batch):
        inputs, targets, eps, lengths = batch["inputs"], batch["targets"], batch["eps"], batch["lengths"]
        T, B, _ = inputs.shape
        enc_in = np.stack([self.data_encoder(inputs[t]) for t in range(T)])
        enc_tgt = np.stack([self.data_encoder(targets[t]) for t in range(T)])
        h_all = self.lstm.run(enc_in)
        if self.rev is not None:
            parts = [enc_tgt, h_all] if self.mutation == "rev_inputs_swapped" else [h_all, enc_tgt]
            e_all = reverse_sequence(self.rev.run(reverse_sequence(np.concatenate(parts, axis=2), lengths)),
                                     lengths)
        else:
            e_all = enc_tgt
        lat_prev = np.zeros((B, self.El))
        total = np.zeros(B)
        for t in range(T):
            h = h_all[t]
            prior_lat = np.zeros_like(lat_prev) if self.mutation == "prior_without_z" else lat_prev
            p_mu, p_sigma = self.normal_head(self.prior(np.concatenate([h, prior_lat], axis=1)))
            q_mu, q_sigma = self.normal_head(self.proposal(np.concatenate([h, lat_prev, e_all[t]], axis=1)))
            q_mu = q_mu + p_mu  # res_q
            z = q_mu + q_sigma * eps[t]
            lat = self.latent_encoder(z)
            logits = self.emission(np.concatenate([lat, h], axis=1))
            x = targets[t]
            w = (np.sum(x * logits - softplus(logits), axis=1)
                 + np.sum(normal_log_prob(z, p_mu, p_sigma), axis=1)
                 - np.sum(normal_log_prob(z, q_mu, q_sigma), axis=1))
            total += np.where(t < lengths, w, 0.0)
            lat_prev = lat
        return total


def main():
    params = read_checkpoint(sys.argv[1])
    Z, batches = read_dump(sys.argv[2])
    model = SRNN(params, sys.argv[3] if len(sys.argv) > 3 else "")
    per_seq, seq_ids, timesteps = [], [], 0
    for b in batches:
        if b["eps"].shape[2] != Z or model.prior.layers[-1][0].shape[1] != 2 * Z:
            raise ValueError("latent size mismatch")
        per_seq.extend(model.elbo(b).tolist())
        seq_ids.extend(b["seq_ids"].tolist())
        timesteps += int(np.sum(b["lengths"]))
    print(json.dumps(dict(per_seq=per_seq, seq_ids=seq_ids, sum=float(np.sum(per_seq)),
                          sequences=len(per_seq), timesteps=timesteps)))


if __name__ == "__main__":
    main()
