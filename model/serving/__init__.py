"""What the bot's processes run: a picture to 28x28 digits (`preprocess`, `photo/`), and a digit
to its cluster (`modelfile`, `network`, `typicality`). numpy and Pillow only: never the learning
side, scikit-learn or scipy (`ruff.toml` here bans them)."""
