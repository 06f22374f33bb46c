"""Train a binary Boltzmann machine with block Gibbs sampling and check its gradient exactly.

A LayeredBoltzmann 6-5-3 (8 free binary units, 256 states: small enough to enumerate) learns a
tiny task: which of three 6-bit prototypes a noisy pattern came from. Each step estimates
∇θ L_β (L_β = J_β/β, J_β = F_β − F_0) with the finite-nudge estimator (ep-without-limits
Thm 3.1) from block-Gibbs chains at T = 1, and Adam follows it. The exact expected cost and
accuracy come from enumerating every state (te.exact), not from the chains.

At the trained weights the Monte-Carlo gradient is then compared entry by entry with the exact
∇θ L_β (te.exact.grad_L), in units of the standard error the chains give (they are independent
replicates): every entry must lie within 5 standard errors.

    python examples/boltzmann_gibbs.py            # about 10 s on one core
    python examples/boltzmann_gibbs.py --quick    # fewer training steps (the test suite)
"""

from __future__ import annotations

import argparse

import torch

import thermoep as te


def noisy_prototypes(n: int, flip: float, generator: torch.Generator):
    """n patterns: one of three fixed 6-bit prototypes with each bit flipped with prob. flip."""
    prototypes = torch.tensor([[1, 1, 1, 0, 0, 0],
                               [0, 0, 1, 1, 1, 0],
                               [1, 0, 0, 0, 1, 1]], dtype=torch.float32)
    y = torch.randint(0, 3, (n,), generator=generator)
    flips = (torch.rand(n, 6, generator=generator) < flip).float()
    x = (prototypes[y] + flips) % 2
    return x, y


def exact_metrics(bm, cost, x, y, temperature):
    """(E_{p_0}[ℓ], accuracy of argmax E_{p_0}[s_L]) by enumeration, over the batch."""
    with torch.no_grad():  # expected_cost is differentiable in θ; here only its value counts
        loss = te.exact.expected_cost(bm, cost, x, y, 0.0, temperature).mean()
        out = te.exact.marginals(bm, cost, x, y, 0.0, temperature)[bm.output]
    return float(loss), float((out.argmax(-1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="training steps")
    parser.add_argument("--quick", action="store_true", help="40 training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = 40 if args.quick else args.steps

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x, y = noisy_prototypes(48, flip=0.1, generator=gen)
    bm = te.LayeredBoltzmann([6, 5, 3])
    cost = te.SquaredError()                          # ℓ = ½‖s_L − onehot(y)‖²
    T, beta = 1.0, 1.0

    gibbs = te.Gibbs(sweeps=40, burn_in=10, temperature=T, chains=8)
    est = te.FiniteNudge(gibbs, beta=beta)
    opt = torch.optim.Adam(bm.parameters(), lr=0.05)

    loss0, acc0 = exact_metrics(bm, cost, x, y, T)
    print(f"before training: exact E[loss] {loss0:.4f}  exact accuracy {acc0:.3f}")
    for step in range(1, steps + 1):
        opt.zero_grad()
        g = est(bm, cost, x, y, generator=gen)
        g.apply_(bm)
        opt.step()
        if step == 1 or step % 25 == 0 or step == steps:
            print(f"step {step:3d}  sampled loss {g.loss:.4f}")
    loss1, acc1 = exact_metrics(bm, cost, x, y, T)
    print(f"after {steps} steps: exact E[loss] {loss1:.4f}  exact accuracy {acc1:.3f}")

    # the gradient at the trained weights: long chains against enumeration
    check = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=100, temperature=T, chains=32),
                           beta=beta)
    g = check(bm, cost, x, y, generator=gen)
    exact = te.exact.grad_L(bm, cost, x, y, beta=beta, temperature=T)
    se = g.stats["se"]
    z = {name: float(((g[name] - exact[name]).abs() / se[name]).max()) for name in exact}
    for name, value in z.items():
        print(f"  {name:20s} largest |error|/SE {value:.2f}")
    worst = max(z.values())
    print(f"gradient check: cosine with exact {g.cosine(exact):.4f}; "
          f"largest |error|/SE {worst:.2f}")
    assert worst < 5, f"a gradient entry is {worst:.1f} standard errors from the exact value"


if __name__ == "__main__":
    main()
