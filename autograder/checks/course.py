"""The course's settings that several checks share, each stated once (seeds 001 and 002; ASSIGNMENT.md)."""
NZ = 100  # the noise dimension of parts 1 and 2 (get_noise(B, nz), Generator(nz=100))
N_CLASSES = 10  # MNIST's digits: the one-hot labels of part 2
LATENT = 32  # the VAE's latent_dim by default (part 3)
LR, BETAS = 2e-4, (0.5, 0.999)  # the GANs' Adam (DCGAN paper), make_optimizers's defaults
