"""Writes worker/src/test/resources/qwen3-reference.json: a tiny random Qwen3 and its outputs computed with
numpy, transcribed line by line from Hugging Face transformers' modeling_qwen3.py (Qwen3RMSNorm,
rotate_half, apply_rotary_pos_emb, repeat_kv, eager_attention_forward, Qwen3MLP) and Qwen3-Embedding's
last_token_pool, in float64. An oracle for Qwen3Encoder that shares no code with it.

Run from the repository root:  python3 worker/src/test/python/qwen3_reference.py
"""
import json
import numpy as np

rng = np.random.default_rng(2026)
cfg = dict(vocab_size=40, hidden_size=12, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
           head_dim=6, intermediate_size=20, max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0)
H, NH, NKV, D, I = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["intermediate_size"]

params = {"model.embed_tokens.weight": rng.normal(0, 0.3, (cfg["vocab_size"], H))}
for l in range(cfg["num_hidden_layers"]):
    p = f"model.layers.{l}."
    params[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
    params[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (NH * D, H))
    params[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (NKV * D, H))
    params[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (NKV * D, H))
    params[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.3, (H, NH * D))
    params[p + "self_attn.q_norm.weight"] = 1 + rng.normal(0, 0.1, D)
    params[p + "self_attn.k_norm.weight"] = 1 + rng.normal(0, 0.1, D)
    params[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, H)
    params[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.3, (I, H))
    params[p + "mlp.up_proj.weight"] = rng.normal(0, 0.3, (I, H))
    params[p + "mlp.down_proj.weight"] = rng.normal(0, 0.3, (H, I))
params["model.norm.weight"] = 1 + rng.normal(0, 0.1, H)
W = {k[len("model."):]: v for k, v in params.items()}

# left padding, pad id 0 (as Qwen3-Embedding's tokenizer with padding_side="left")
lengths = [5, 3, 1]
S = max(lengths)
input_ids = np.zeros((len(lengths), S), dtype=np.int64)
attention_mask = np.zeros((len(lengths), S), dtype=np.int64)
for r, n in enumerate(lengths):
    input_ids[r, S - n:] = rng.integers(1, cfg["vocab_size"], n)
    attention_mask[r, S - n:] = 1


def rms_norm(x, w, eps=cfg["rms_norm_eps"]):  # Qwen3RMSNorm
    variance = np.mean(x ** 2, axis=-1, keepdims=True)
    return w * (x / np.sqrt(variance + eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return np.concatenate((-x2, x1), axis=-1)


def rope(position_ids):  # Qwen3RotaryEmbedding (default rope type)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (np.arange(0, D, 2, dtype=np.int64).astype(np.float64) / D))
    freqs = position_ids[:, :, None].astype(np.float64) * inv_freq[None, None, :]
    emb = np.concatenate((freqs, freqs), axis=-1)
    return np.cos(emb), np.sin(emb)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos, sin = cos[:, None], sin[:, None]
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):
    b, kv, s, d = x.shape
    return np.broadcast_to(x[:, :, None], (b, kv, n_rep, s, d)).reshape(b, kv * n_rep, s, d)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def forward(ids, mask):
    B, S = ids.shape
    # position ids as transformers' generate() derives them for left padding
    position_ids = np.cumsum(mask, axis=-1) - 1
    position_ids[mask == 0] = 1
    cos, sin = rope(position_ids)
    causal = np.tril(np.ones((S, S), dtype=bool))
    allowed = causal[None, None] & (mask[:, None, None, :] == 1)
    bias = np.where(allowed, 0.0, np.finfo(np.float64).min)
    x = W["embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).reshape(B, S, NH, D)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).reshape(B, S, NKV, D)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(B, S, NKV, D)
        q = rms_norm(q, W[p + "self_attn.q_norm.weight"]).transpose(0, 2, 1, 3)
        k = rms_norm(k, W[p + "self_attn.k_norm.weight"]).transpose(0, 2, 1, 3)
        v = v.transpose(0, 2, 1, 3)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        scores = q @ k.transpose(0, 1, 3, 2) * D ** -0.5 + bias
        out = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(B, S, NH * D)
        x = x + out @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"])
        gate = h @ W[p + "mlp.gate_proj.weight"].T
        up = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ W[p + "mlp.down_proj.weight"].T
    return rms_norm(x, W["norm.weight"])


hidden = forward(input_ids, attention_mask)
pooled = hidden[:, -1]  # last_token_pool with left padding
embeddings = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)

out = {
    "config": cfg,
    "parameters": {k: {"shape": list(v.shape), "values": v.ravel().tolist()} for k, v in params.items()},
    "input_ids": input_ids.tolist(),
    "attention_mask": attention_mask.tolist(),
    "last_hidden_state": hidden.ravel().tolist(),
    "embeddings": embeddings.ravel().tolist(),
}
with open("worker/src/test/resources/qwen3-reference.json", "w") as f:
    json.dump(out, f)
