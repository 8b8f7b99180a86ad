"""The prior P(z) = N(0, I): shape, dtype, device, distribution, fresh draws.

The distribution is judged with scipy tests on 20,000 x 100 draws under a fixed seed: a test
that the nz coordinates are uncorrelated and a Kolmogorov-Smirnov test against N(0, 1), each
at level 1e-4, so a correct prior fails with probability below 2e-4 (union bound) for a
grading seed drawn at random; under a given seed the verdict is the same on every run.
"""
import numpy as np
import torch

from autograder.checks.course import NZ
from autograder.checks.registry import CheckFailure, check

ALPHA = 1e-4
N_DRAWS = 20_000


def _describe_sample(z):
    flat = z.flatten().double()
    return f"mean {flat.mean():.3f}, std {flat.std():.3f}, min {flat.min():.3f}, max {flat.max():.3f}"


def collect_prior(part):
    def collect(submission, inputs):
        get_noise = submission.get(part, "get_noise")
        z = get_noise(8, NZ, "cpu")
        if not torch.is_tensor(z):
            return {"type": type(z).__name__}
        found = {"type": "Tensor", "shape": tuple(z.shape), "dtype": str(z.dtype), "device": z.device.type,
                 "shape_3_10": tuple(get_noise(3, 10, "cpu").shape), "repeat": torch.equal(z, get_noise(8, NZ, "cpu")),
                 "sample": get_noise(N_DRAWS, NZ, "cpu").reshape(N_DRAWS, NZ)}
        if torch.cuda.is_available():
            found["cuda_device"] = get_noise(2, NZ, "cuda").device.type
        return found
    return collect


def judge_prior(inputs, found, context):
    from scipy import stats  # here: judges only, the namespace need not import it
    if found["type"] != "Tensor":
        raise CheckFailure(f"get_noise returned {found['type']}: expected a tensor")
    if tuple(found["shape"]) != (8, NZ, 1, 1):
        hint = " (add the two spatial dims: .view(B, nz, 1, 1))" if tuple(found["shape"]) == (8, NZ) else ""
        raise CheckFailure(f"get_noise(8, {NZ}, 'cpu') has shape {tuple(found['shape'])}: "
                           f"expected (8, {NZ}, 1, 1){hint}")
    if tuple(found["shape_3_10"]) != (3, 10, 1, 1):
        raise CheckFailure("get_noise(3, 10, 'cpu') does not have shape (3, 10, 1, 1): use the nz argument")
    if found["dtype"] != "torch.float32":
        raise CheckFailure(f"get_noise returns {found['dtype']}: expected torch.float32")
    if found["device"] != "cpu":
        raise CheckFailure(f"get_noise(..., device='cpu') returned a tensor on {found['device']}")
    if found.get("cuda_device", "cuda") != "cuda":
        raise CheckFailure("get_noise(..., device='cuda') did not create the tensor on the GPU")
    if found["repeat"]:
        raise CheckFailure("two calls to get_noise returned the same tensor: draw fresh noise on every call")
    sample = found["sample"].double().reshape(N_DRAWS, NZ)
    if not bool(torch.isfinite(sample).all()):  # a NaN would fail every statistical test below
        raise CheckFailure(f"get_noise({N_DRAWS}, {NZ}, 'cpu') returned NaN or infinite values: the prior is "
                           "N(0, I), torch.randn")
    if torch.unique(sample, dim=0).shape[0] < 0.99 * N_DRAWS:  # float32 ties alone repeat a few rows
        raise CheckFailure("rows of one get_noise batch repeat: each example needs its own z")
    corr = np.corrcoef(sample.numpy(), rowvar=False)
    off_diagonal = corr[np.triu_indices(NZ, 1)]
    # Under independence, N * r^2 summed over pairs is approximately chi2 with one dof per pair.
    statistic = N_DRAWS * float((off_diagonal ** 2).sum())
    if stats.chi2.sf(statistic, off_diagonal.size) < ALPHA:
        raise CheckFailure("the nz coordinates of z are correlated (largest |correlation| "
                           f"{np.abs(off_diagonal).max():.2f}): draw each coordinate independently")
    flat = np.sort(sample.flatten().numpy())  # kstest sorts what it is given twice: a sorted array sorts fast
    ks = stats.kstest(flat, "norm")
    if ks.pvalue < ALPHA:
        found = _describe_sample(sample)
        if flat.min() >= -1 and flat.max() <= 1:
            cause = "it looks uniform (torch.rand?); the prior is N(0, I): torch.randn"
        elif abs(flat.std() - 1) > 0.05:
            cause = f"its standard deviation is {flat.std():.2f}, not 1: N(0, I) has unit variance"
        elif abs(flat.mean()) > 0.05:
            cause = f"its mean is {flat.mean():.2f}, not 0"
        else:
            cause = "its values do not follow N(0, 1)"
        raise CheckFailure(f"get_noise samples are not N(0, I) (KS test p = {ks.pvalue:.1e}; {found}): {cause}")


check("dcgan.prior", collect=collect_prior("part1_dcgan"), judge=judge_prior)
check("cgan.prior", collect=collect_prior("part2_cgan"), judge=judge_prior)
