"""A term of your own in an energy: a learned quartic self-coupling, defined by its energy alone.

    E_q = ¼ Σ_i exp(a_i) ρ(s_i)⁴          (one learned a_i per unit of the hidden layer)

``Quartic`` subclasses ``te.Interaction`` and writes ``energy`` only: the field it sends to
its layer and its parameter gradient come from autograd, so the relaxation, every estimator and
the references use it as they use the built-in terms (more slowly than analytic ones). It is
added to a 64-32-10 tanh network built from layers and interactions with ``te.Energy``, trained
on the embedded digits with centered EP at T = 0 (Laborieux et al. 2021), and its EP gradient is
then compared with implicit differentiation at the free fixed point (te.implicit_grad), the
gradient EP approximates with an O(β²) bias.

    python examples/custom_term.py            # about 20 s on one core
    python examples/custom_term.py --quick    # fewer training steps (the test suite)
"""

from __future__ import annotations

import argparse
import copy

import torch

import thermoep as te
from thermoep.data import load_dataset


class Quartic(te.Interaction):
    """E = ¼ Σ_i exp(a_i) ρ_i⁴ on one layer; a is learned (initialised to a = log 0.1)."""

    def __init__(self, layer: te.Layer) -> None:
        super().__init__(layer)
        self.log_strength = torch.nn.Parameter(torch.full((layer.size,), -2.3))

    def energy(self, rho):
        return 0.25 * (self.log_strength.exp() * rho ** 4).sum(-1)


def build():
    x, h, out = te.Input("x", 64), te.Layer("h", 32, "tanh"), te.Layer("y", 10, "tanh")
    return te.Energy([x, h, out], [te.Dense(x, h), te.Dense(h, out), te.Bias(h), te.Bias(out),
                                   Quartic(h)])


def accuracy(net, relax, x, y) -> float:
    phase = relax.run(net, te.SquaredError(), x, y)      # the free phase, settled
    return float((phase.output.argmax(-1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (batches)")
    parser.add_argument("--quick", action="store_true", help="60 training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = 60 if args.quick else args.steps

    torch.manual_seed(args.seed)
    data = load_dataset("digits", seed=args.seed)       # embedded: 1,437 train / 360 test
    net, cost = build(), te.SquaredError()
    print("parameters:", ", ".join(f"{k} {list(p.shape)}" for k, p in net.named_parameters()))

    relax = te.Relaxation(steps=20, nudged_steps=10)
    est = te.Centered(relax, beta=0.2)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    order = torch.randperm(data.train_x.shape[0])
    batch = 32
    for step in range(steps):
        i = order[(step * batch) % len(order):][:batch]
        opt.zero_grad()
        g = est(net, cost, data.train_x[i], data.train_y[i])
        g.apply_(net)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:3d}  loss {g.loss:.4f}")
    test = accuracy(net, te.Relaxation(steps=40), data.test_x, data.test_y)
    print(f"test accuracy after {steps} steps: {test:.3f}")
    strength = net.quartic_h.log_strength.detach().exp()
    print(f"learned quartic strengths exp(a): mean {float(strength.mean()):.4f}, "
          f"range {float(strength.min()):.4f} .. {float(strength.max()):.4f}")

    # EP at small β on a settled fixed point against implicit differentiation, in float64
    net64 = copy.deepcopy(net).double()
    x, y = data.train_x[:64].double(), data.train_y[:64]
    settled = te.Relaxation(steps=2000, tol=1e-10)
    reference = te.implicit_grad(net64, cost, x, y, settled)
    errors = {}
    for beta in (0.02, 0.01):
        g = te.Centered(settled, beta=beta)(net64, cost, x, y)
        errors[beta] = float((g.flat() - reference.flat()).norm() / reference.flat().norm())
        print(f"beta {beta}: cosine with implicit differentiation {g.cosine(reference):.6f}, "
              f"relative error {errors[beta]:.2e}")
    for name in g:
        one = torch.nn.functional.cosine_similarity(g[name].flatten(), reference[name].flatten(),
                                                    dim=0)
        print(f"  {name:22s} cosine {float(one):.6f}")
    print(f"error ratio beta 0.02 / 0.01: {errors[0.02] / errors[0.01]:.2f} "
          "(centered EP's bias is O(beta^2): 4)")

if __name__ == "__main__":
    main()
