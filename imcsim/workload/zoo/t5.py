"""Flan-T5-large (T5 v1.1 layout): the LoRA / LoRAFusion workload.

Config [P, ``google/flan-t5-large`` config.json; [FLAN-T5]]:
d_model 1024, 16 heads x d_kv 64, gated-GELU FFN d_ff 2816, vocabulary 32128, 24 encoder and 24
decoder layers, RMS layer norms (scale only), q/k/v/o without bias, relative position bias of 32
buckets x 16 heads in the first self-attention layer of each stack (shared by the stack's other
layers), shared input embedding, untied LM head. 783,150,080 parameters.

Graph conventions:
- The encoder reads the graph input ``(seq_len,)`` token ids; the decoder reads a second input node
  ``decoder_input_ids`` ``(dec_len,)`` through an embedding tied to ``shared`` (no parameters of its own).
- Node names ``{encoder|decoder}.<i>.{SelfAttention|EncDecAttention}.{q,k,v,o}`` and
  ``{encoder|decoder}.<i>.DenseReluDense.{wi_0,wi_1,wo}``; tags ``q``/``k``/``v``/``o``, ``encoder``/
  ``decoder``, ``cross`` (cross-attention), ``ffn``. Each layer is a block (kind ``t5_layer``) holding one
  block per sublayer (kind ``attention`` / ``ffn``, identity shortcut: pre-norm residual).
- Attention MACs count the full T x S score matrix, also in the causal decoder self-attention
  (a dense array computes the masked half too).
- Default sequence lengths (seq_len 512, dec_len 64) are an assumption [A]; LoRAFusion truncates at
  2048 tokens and the BBH prompt lengths are workload inputs (section 11.5).
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register

D_MODEL, HEADS, D_FF, VOCAB, LAYERS, BUCKETS = 1024, 16, 2816, 32128, 24, 32  # [P] flan-t5-large config


def _attention(b: GraphBuilder, x: str, name: str, stack: str, kv: str | None, bias: str | None,
               heads: int) -> str:
    """Pre-norm attention sublayer: RMS norm -> q, k, v -> scores (+ position bias) -> softmax -> AV -> o -> add."""
    cross = kv is not None
    tags = (stack, "cross") if cross else (stack,)
    d = b.shape(x)[-1]
    with b.block(name, "attention", x, "identity"):
        h = b.norm(x, "rms", name="layer_norm")
        src = kv if cross else h
        q = b.linear(h, d, bias=False, name="q", tags=(*tags, "q"))
        k = b.linear(src, d, bias=False, name="k", tags=(*tags, "k"))
        v = b.linear(src, d, bias=False, name="v", tags=(*tags, "v"))
        s = b.matmul(q, k, "qk", heads, name="scores")
        if bias is not None:
            s = b.add(s, bias, name="position_bias")
        p = b.dropout(b.act(s, "softmax", name="softmax"), name="attn_dropout")
        y = b.matmul(p, v, "av", heads, name="context")
        y = b.linear(y, d, bias=False, name="o", tags=(*tags, "o"))
        y = b.dropout(y, name="dropout")
        return b.add(x, y, name="add")


def _ffn(b: GraphBuilder, x: str, stack: str, d_ff: int) -> str:
    """Pre-norm gated-GELU FFN: wo(gelu(wi_0 h) * wi_1 h)."""
    d = b.shape(x)[-1]
    with b.block("DenseReluDense", "ffn", x, "identity"):
        h = b.norm(x, "rms", name="layer_norm")
        g = b.act(b.linear(h, d_ff, bias=False, name="wi_0", tags=(stack, "ffn")), "gelu", name="gelu")
        u = b.linear(h, d_ff, bias=False, name="wi_1", tags=(stack, "ffn"))
        y = b.dropout(b.mul(g, u, name="gate"), name="hidden_dropout")
        y = b.dropout(b.linear(y, d, bias=False, name="wo", tags=(stack, "ffn")), name="dropout")
        return b.add(x, y, name="add")


@register("flan-t5-large", "Flan-T5-large encoder-decoder (783M params), seq_len/dec_len options")
def flan_t5_large(seq_len: int = 512, dec_len: int = 64, layers: int = LAYERS) -> Graph:
    if seq_len < 1 or dec_len < 1 or layers < 1:
        raise ValueError(f"seq_len {seq_len}, dec_len {dec_len}, layers {layers} must be >= 1")
    b = GraphBuilder("flan-t5-large", (seq_len,), seq_len=seq_len, dec_len=dec_len, d_model=D_MODEL,
                     heads=HEADS, d_ff=D_FF, vocab=VOCAB, layers=layers)
    x = b.dropout(b.embedding(b.input, VOCAB, D_MODEL, name="shared"), name="encoder.dropout")
    enc_bias = b.rel_pos_bias(seq_len, seq_len, BUCKETS, HEADS, bidirectional=True,
                              name="encoder.relative_attention_bias")
    for i in range(layers):
        with b.block(f"encoder.{i}", "t5_layer", x, None):
            x = _attention(b, x, "SelfAttention", "encoder", None, enc_bias, HEADS)
            x = _ffn(b, x, "encoder", D_FF)
    enc = b.dropout(b.norm(x, "rms", name="encoder.final_layer_norm"), name="encoder.final_dropout")

    ids = b.extra_input("decoder_input_ids", (dec_len,))
    y = b.embedding(ids, VOCAB, D_MODEL, name="decoder.embed_tokens", tied_to="shared")
    y = b.dropout(y, name="decoder.dropout")
    dec_bias = b.rel_pos_bias(dec_len, dec_len, BUCKETS, HEADS, bidirectional=False,
                              name="decoder.relative_attention_bias")
    for i in range(layers):
        with b.block(f"decoder.{i}", "t5_layer", y, None):
            y = _attention(b, y, "SelfAttention", "decoder", None, dec_bias, HEADS)
            y = _attention(b, y, "EncDecAttention", "decoder", enc, None, HEADS)
            y = _ffn(b, y, "decoder", D_FF)
    y = b.dropout(b.norm(y, "rms", name="decoder.final_layer_norm"), name="decoder.final_dropout")
    b.linear(y, VOCAB, bias=False, name="lm_head", tags=("classifier", "lm_head"))
    return b.build()
