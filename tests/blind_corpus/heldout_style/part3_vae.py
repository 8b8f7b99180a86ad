# Part 3 - VAE
# A Lightning-flavoured module (encode / decode / sample helpers, a `latent_dim` attribute),
# with the criterion as free functions, as the notebook asks.
import torch
import torch.nn as nn
import torch.nn.functional as F

latent_dim = 32
n_classes = 10


def reparameterize(mu, logvar):
    """z = mu + eps * sigma with sigma = exp(logvar / 2) and eps ~ N(0, I)."""
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std)
    return mu + eps * std


class VAE(nn.Module):
    """x (B, 784) -> (reconstruction (B, 784), mu (B, d), logvar (B, d))."""

    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.latent_dim = latent_dim
        self.cond_dim = cond_dim
        self.encoder = nn.Sequential(
            nn.Linear(784 + cond_dim, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + cond_dim, 64),
            nn.ReLU(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, 784),
        )

    def encode(self, x):
        h = self.encoder(x.reshape(x.size(0), -1))
        mu, logvar = torch.split(h, self.latent_dim, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        x_hat = self.decode(z)
        return x_hat, mu, logvar

    @torch.no_grad()
    def sample(self, num_samples, device="cpu"):
        z = torch.randn(num_samples, self.latent_dim, device=device)
        return self.decode(z)


def kl_divergence(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) per example, summed over latent dims: shape (B,)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def vae_loss(x_hat, x, mu, logvar):
    """Negative ELBO: sum of squared error + KL, summed over the batch."""
    recon = F.mse_loss(x_hat, x.reshape(x_hat.shape), reduction="sum")
    kld = kl_divergence(mu, logvar).sum()
    return recon + kld


def vae_step(model, optimizer, x):
    """One VAE update on a batch; returns the loss."""
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.detach()


class CVAE(VAE):
    """Conditional VAE: the one-hot label is concatenated to the encoder input and to z."""

    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim=latent_dim, cond_dim=n_classes)

    def forward(self, x, y):
        y = y.reshape(y.size(0), -1).to(x.dtype)
        mu, logvar = self.encode(torch.cat([x.reshape(x.size(0), -1), y], dim=1))
        z = reparameterize(mu, logvar)
        x_hat = self.decode(torch.cat([z, y], dim=1))
        return x_hat, mu, logvar
