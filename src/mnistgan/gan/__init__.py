"""The GAN: its networks, objectives, training loop and sampling."""
