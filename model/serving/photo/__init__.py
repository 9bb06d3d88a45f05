"""Photo analysis for `model.serving.preprocess`, one module per stage, in the order data flows:

1. `decode` — bytes to a small grayscale array, refusing what cannot be read safely;
2. `ink` — the lit paper divided out, the ink's polarity settled;
3. `lines` — ruled and squared lines, printed rules and the paper's edge taken out: `bands`
   finds the thin straight bands, `paper_lines` tells which are the paper's;
4. `components` — connected pieces of ink, frames among them;
5. `digits` — which pieces are the digit;
6. `framing` — the digit in MNIST's 28x28 framing.

`imageops` holds the array primitives the stages share; `box`, the one box type they pass
around, (x0, y0, x1, y1).
"""
