"""What runs offline, in `python -m model train`: the clusters learned from MNIST without labels
(`clustering`, `styles`, `augment`), the model built from them (`train`), ids kept across
retrains (`matching`) and the labels read only to score (`evaluate`)."""
