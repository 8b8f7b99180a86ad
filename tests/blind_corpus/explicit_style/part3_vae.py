# Part 3 - VAE: explicit layers, one 2d output split with torch.split
import torch
import torch.nn as nn
import torch.nn.functional as F

latent_dim = 32
n_classes = 10


def reparameterize(mu, logvar):
    """z = mu + eps * sigma with sigma = exp(logvar / 2) and eps ~ N(0, I)."""
    sigma = torch.exp(logvar / 2)
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)
    return mu + eps * sigma


class VAE(nn.Module):
    """x (B, 784) -> (reconstruction (B, 784), mu (B, d), logvar (B, d))."""

    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.d = latent_dim
        self.enc1 = nn.Linear(784 + cond_dim, 128)
        self.enc2 = nn.Linear(128, 64)
        self.enc3 = nn.Linear(64, 2 * latent_dim)
        self.dec1 = nn.Linear(latent_dim + cond_dim, 64)
        self.dec2 = nn.Linear(64, 128)
        self.dec3 = nn.Linear(128, 784)

    def encode(self, x):
        h = x.reshape(x.shape[0], -1)
        h = F.relu(self.enc1(h))
        h = F.relu(self.enc2(h))
        h = self.enc3(h)
        mu, logvar = torch.split(h, self.d, dim=1)
        return mu, logvar

    def decode(self, z):
        h = F.relu(self.dec1(z))
        h = F.relu(self.dec2(h))
        return self.dec3(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        x_hat = self.decode(reparameterize(mu, logvar))
        return x_hat, mu, logvar


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per example, summed over latent dims: shape (B,)."""
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


def vae_loss(x_hat, x, mu, logvar):
    """Negative ELBO: sum of squared error + KL, summed over the batch."""
    x = x.reshape(x_hat.shape)
    return ((x_hat - x) ** 2).sum() + kl_divergence(mu, logvar).sum()


def vae_step(model, optimizer, x):
    """One VAE update on a batch; returns the loss."""
    model.train()
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return float(loss)


class CVAE(VAE):
    """Conditional VAE: the one-hot label is concatenated to the encoder input and to z."""

    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.reshape(len(y), -1)
        mu, logvar = self.encode(torch.cat([x.reshape(len(x), -1), y], dim=1))
        z = reparameterize(mu, logvar)
        return self.decode(torch.cat([z, y], dim=1)), mu, logvar
