"""ViT-B/16 (torchvision layout).

Published torchvision totals at 224 [P: torchvision ``ViT_B_16_Weights.IMAGENET1K_V1`` docs]:
86,567,656 parameters, 17.56 GFLOPS (MACs, attention matmuls included). Layout: conv_proj 16x16
stride 16 (with bias) -> tokens, class token (a parameter) prepended, position embedding (a parameter)
added, 12 pre-norm encoder layers (LayerNorm, multi-head self-attention with biased q/k/v/out
projections, LayerNorm, MLP 768 -> 3072 -> 768 with GELU), final LayerNorm, the class token into the
head. torchvision packs q, k and v into one ``in_proj`` matrix; here they are three linears with the
same parameters and MACs so that LoRA-style methods can find q and v (tags ``q``/``k``/``v``/``o``).
"""

from __future__ import annotations

from imcsim.workload.graph import Graph, GraphBuilder
from imcsim.workload.zoo import register


@register("vit-b16", "ViT-B/16 (torchvision): 12 layers, d 768, 12 heads, MLP 3072")
def vit_b16(resolution: int = 224, classes: int = 1000, patch: int = 16, layers: int = 12, dim: int = 768,
            heads: int = 12, mlp: int = 3072) -> Graph:
    if resolution % patch:
        raise ValueError(f"resolution {resolution} is not a multiple of the patch size {patch}")
    b = GraphBuilder("vit-b16", (3, resolution, resolution), resolution=resolution, classes=classes,
                     patch=patch, layers=layers, dim=dim, heads=heads)
    x = b.conv(b.input, dim, patch, patch, padding=0, bias=True, name="conv_proj", tags=("stem",))
    x = b.tokens(x, name="patch_tokens")
    n_tokens = b.shape(x)[0] + 1
    x = b.concat(b.param("class_token", (1, dim)), x, name="cat_class_token")
    x = b.add(x, b.param("encoder.pos_embedding", (n_tokens, dim)), name="encoder.add_pos_embedding")
    x = b.dropout(x, 0.0, name="encoder.dropout")
    for i in range(layers):
        with b.block(f"encoder.layers.{i}", "transformer_layer", x, None):
            with b.block("self_attention", "attention", x, "identity"):
                h = b.norm(x, "ln", name="ln_1")
                q = b.linear(h, dim, name="q", tags=("q", "encoder"))
                k = b.linear(h, dim, name="k", tags=("k", "encoder"))
                v = b.linear(h, dim, name="v", tags=("v", "encoder"))
                s = b.act(b.matmul(q, k, "qk", heads, name="scores"), "softmax", name="softmax")
                y = b.matmul(s, v, "av", heads, name="context")
                y = b.linear(y, dim, name="out_proj", tags=("o", "encoder"))
                x = b.add(x, b.dropout(y, 0.0, name="dropout"), name="add")
            with b.block("mlp", "ffn", x, "identity"):
                h = b.norm(x, "ln", name="ln_2")
                h = b.act(b.linear(h, mlp, name="fc1", tags=("ffn", "encoder")), "gelu", name="gelu")
                h = b.linear(b.dropout(h, 0.0, name="dropout1"), dim, name="fc2", tags=("ffn", "encoder"))
                x = b.add(x, b.dropout(h, 0.0, name="dropout2"), name="add")
    x = b.norm(x, "ln", name="encoder.ln")
    x = b.select(x, 0, name="class_token_out")
    b.linear(x, classes, name="heads.head", tags=("classifier",))
    return b.build()
