"""mnistgan: a reproducible DVC pipeline that trains a GAN on MNIST and measures its digits."""
