"""Part 3 - variational auto-encoder (seed 002 slides, seed 000 section III): the reference answers.

MNIST 28x28 flattened to 784 in [0, 1]; latent dimension d = 32. The slides' formulas carry
errors that ASSIGNMENT.md corrects: z = mu + eps * sigma (not sigma^2), and
KL = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2).
"""
import torch
import torch.nn as nn

latent_dim = 32
n_classes = 10


class VAE(nn.Module):
    """x (B, 784) -> (reconstruction (B, 784), mu (B, d), logvar (B, d))."""

    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(784 + cond_dim, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 2 * latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + cond_dim, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 784)
        )

    def encode(self, x):
        h = self.encoder(x.view(x.size(0), -1))
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar


class CVAE(VAE):
    """Conditional VAE (slides): the one-hot label is concatenated to the encoder input and to z."""

    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.view(y.size(0), -1)
        mu, logvar = self.encode(torch.cat([x.view(x.size(0), -1), y], dim=1))
        return self.decode(torch.cat([reparameterize(mu, logvar), y], dim=1)), mu, logvar


def reparameterize(mu, logvar):
    """z = mu + eps * sigma with sigma = exp(logvar / 2) and eps ~ N(0, I): differentiable in mu and logvar."""
    return mu + torch.randn_like(mu) * logvar


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per example, summed over latent dims: shape (B,)."""
    return -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)


def vae_loss(x_hat, x, mu, logvar):
    """Negative ELBO as in the slides' code: sum of squared error + KL, summed over the batch."""
    return ((x_hat - x.view_as(x_hat)) ** 2).sum() + kl_divergence(mu, logvar).sum()


def vae_step(model, optimizer, x):
    """One VAE update on a batch; returns the loss."""
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.detach()
