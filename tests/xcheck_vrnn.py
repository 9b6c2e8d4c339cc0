#!/usr/bin/env python3
"""An independent numpy re-implementation of the VRNN ELBO (1 particle,
filtering res_q proposal, Bernoulli emission), following the reference
(tensorflow/models research/fivo/fivo/models/vrnn.py and base.py), written
without looking at how fivo computes it.

Usage: xcheck_vrnn.py CHECKPOINT DUMP

CHECKPOINT is a fivo checkpoint (layout in core/include/fivo/internal/checkpoint.h).
DUMP is written by tests/test_xcheck_vrnn.cc: every eval batch (inputs,
targets, lengths) and the standard normals eps the eval pass draws for the
latent, so this script does not need fivo's Philox streams.

Prints one JSON object: the per-sequence log weights summed over time, their
sum, and the sequence and timestep counts. Everything is computed in float64.
"""
import json
import struct
import sys
import zlib

import numpy as np


def read_checkpoint(path):
    """name -> float64 array (parameters only; Adam moments are skipped)."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != b"FIVOCKPT":
        raise ValueError("%s: not a fivo checkpoint" % path)
    version, nrec = struct.unpack_from("<II", buf, 8)
    if version != 1:
        raise ValueError("%s: checkpoint version %d" % (path, version))
    # magic, version, nrec, step, seed, adam_step, best_bound, flags, crc
    pos = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4
    params = {}
    for _ in range(nrec):
        start = pos
        kind, name_len = struct.unpack_from("<II", buf, pos)
        pos += 8
        name = buf[pos:pos + name_len].decode("utf-8")
        pos += name_len
        rows, cols = struct.unpack_from("<II", buf, pos)
        pos += 8
        data = np.frombuffer(buf, dtype="<f4", count=rows * cols, offset=pos)
        pos += 4 * rows * cols
        (crc,) = struct.unpack_from("<I", buf, pos)
        if zlib.crc32(buf[start:pos]) & 0xFFFFFFFF != crc:
            raise ValueError("%s: record %s: bad crc" % (path, name))
        pos += 4
        if kind == 0:
            params[name] = data.reshape(rows, cols).astype(np.float64)
    if buf[pos:pos + 8] != b"FIVOEND!":
        raise ValueError("%s: no end marker" % path)
    return params


def read_dump(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"FXCK":
        raise ValueError("%s: not a dump" % path)
    nb, Z = struct.unpack_from("<ii", buf, 4)
    pos = 12
    batches = []
    for _ in range(nb):
        T, B, D = struct.unpack_from("<iii", buf, pos)
        pos += 12

        def take(dtype, n):
            nonlocal pos
            a = np.frombuffer(buf, dtype=dtype, count=n, offset=pos)
            pos += 4 * n
            return a

        lengths = take("<i4", B)
        seq_ids = take("<i4", B)
        inputs = take("<f4", T * B * D).reshape(T, B, D).astype(np.float64)
        targets = take("<f4", T * B * D).reshape(T, B, D).astype(np.float64)
        eps = take("<f4", T * B * Z).reshape(T, B, Z).astype(np.float64)
        batches.append(dict(lengths=lengths, seq_ids=seq_ids, inputs=inputs,
                            targets=targets, eps=eps))
    if pos != len(buf):
        raise ValueError("%s: %d trailing bytes" % (path, len(buf) - pos))
    return Z, batches


class MLP:
    """snt.nets.MLP: relu between layers, none after the last."""

    def __init__(self, params, prefix):
        self.layers = []
        k = 1
        while "%s/fc%d/w" % (prefix, k) in params:
            self.layers.append((params["%s/fc%d/w" % (prefix, k)],
                                params["%s/fc%d/b" % (prefix, k)][0]))
            k += 1
        if not self.layers:
            raise KeyError("no layers under " + prefix)

    def __call__(self, x):
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i + 1 < len(self.layers):
                x = np.maximum(x, 0.0)
        return x


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def normal_log_prob(x, mu, sigma):
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)


class VRNN:
    RAW_SIGMA_BIAS = 0.5
    SIGMA_MIN = 0.0

    def __init__(self, params):
        self.data_encoder = MLP(params, "vrnn/data_encoder")
        self.latent_encoder = MLP(params, "vrnn/latent_encoder")
        self.prior = MLP(params, "vrnn/prior")
        self.proposal = MLP(params, "vrnn/proposal")
        self.emission = MLP(params, "vrnn/emission")
        self.kernel = params["vrnn/lstm/kernel"]
        self.bias = params["vrnn/lstm/bias"][0]
        self.R = self.kernel.shape[1] // 4
        self.El = self.latent_encoder.layers[-1][0].shape[1]

    def lstm(self, x, h, c):
        """tf.nn.rnn_cell.LSTMCell: [x, h] @ kernel + bias -> i, j, f, o;
        forget bias 1.0 added to f."""
        a = np.concatenate([x, h], axis=1) @ self.kernel + self.bias
        i, j, f, o = np.split(a, 4, axis=1)
        c_new = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        return sigmoid(o) * np.tanh(c_new), c_new

    def normal_head(self, out):
        mu, raw = np.split(out, 2, axis=1)
        return mu, np.maximum(softplus(raw + self.RAW_SIGMA_BIAS), self.SIGMA_MIN)

    def elbo(self, batch):
        """Per sequence: sum over t < length of
        log p(x_t|z_t,h_t) + log p(z_t|h_t) - log q(z_t|h_t,x_t)."""
        inputs, targets, eps = batch["inputs"], batch["targets"], batch["eps"]
        T, B, _ = inputs.shape
        h = np.zeros((B, self.R))
        c = np.zeros((B, self.R))
        lat = np.zeros((B, self.El))
        total = np.zeros(B)
        for t in range(T):
            x_in = self.data_encoder(inputs[t])
            x_tgt = self.data_encoder(targets[t])
            h, c = self.lstm(np.concatenate([x_in, lat], axis=1), h, c)
            p_mu, p_sigma = self.prior_dist(h)
            q_mu, q_sigma = self.normal_head(self.proposal(np.concatenate([h, x_tgt], axis=1)))
            q_mu = q_mu + p_mu  # res_q
            z = q_mu + q_sigma * eps[t]
            lat = self.latent_encoder(z)
            logits = self.emission(np.concatenate([lat, h], axis=1))
            x = targets[t]
            log_px = np.sum(x * logits - softplus(logits), axis=1)
            log_pz = np.sum(normal_log_prob(z, p_mu, p_sigma), axis=1)
            log_qz = np.sum(normal_log_prob(z, q_mu, q_sigma), axis=1)
            w = log_px + log_pz - log_qz
            total += np.where(t < batch["lengths"], w, 0.0)
        return total

    def prior_dist(self, h):
        return self.normal_head(self.prior(h))


def main():
    params = read_checkpoint(sys.argv[1])
    Z, batches = read_dump(sys.argv[2])
    model = VRNN(params)
    per_seq = []
    seq_ids = []
    timesteps = 0
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
