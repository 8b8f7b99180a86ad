# Part 3 - VAE (style of common GitHub VAE repos: torch.distributions, one 2d head split in two)
import torch
import torch.nn as nn
from torch.distributions import Normal, kl_divergence as kl_between

latent_dim = 32
n_classes = 10


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return Normal(mu, std).rsample()


class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(784 + cond_dim, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + cond_dim, 64), nn.ReLU(),
            nn.Linear(64, 128), nn.ReLU(),
            nn.Linear(128, 784),
        )

    def encode(self, x):
        h = self.encoder(x.flatten(start_dim=1))
        mu, logvar = torch.chunk(h, 2, dim=-1)
        return mu, logvar

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def kl_divergence(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_between(q, p).sum(dim=-1)


def vae_loss(x_hat, x, mu, logvar):
    recon = ((x_hat - x.flatten(start_dim=1)) ** 2).sum(dim=-1)
    return (recon + kl_divergence(mu, logvar)).mean()


def vae_step(model, optimizer, x):
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.detach()


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim=latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.flatten(start_dim=1)
        mu, logvar = self.encode(torch.cat([x.flatten(start_dim=1), y], dim=-1))
        z = reparameterize(mu, logvar)
        return self.decode(torch.cat([z, y], dim=-1)), mu, logvar
