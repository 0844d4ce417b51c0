"""Offline RL for the policy model: Q critics with target heads, actor by advantage-filtered BC.

    rl = OfflineRL(model, actor_filter="binary", filter_gamma=0.999, critic_coef=10.0,
                   reward_scale=0.01, target_tau=0.005)
    loss, stats = rl.loss(batch)      # a training.dataset.Batch of encoded states, on the device
    loss.backward(); optimizer.step(); rl.update_target()

A window of T actions carries T + 1 states (training/dataset.py). The model runs once over all
T + 1 states; position t < T is a decision, position t + 1 gives V(s_{t+1}) to bootstrap from.
The model's critic gives Q(s, a) for each action and each discount factor gamma of
`ModelConfig.gammas`; V(s) = sum_a pi(a|s) Q(s, a) under the actor's current policy pi
(its masked softmax, detached), as in AMAGO / Metamon.

Inputs (what the `metamon` agent feeds at play time, too):
- prev_action[t] = actions[t - 1], -1 at the window's first state (and where it is hidden);
- prev_reward[t] = rewards[t - 1], the *raw* shaped reward, 0 at the first state. Its +-100
  win/loss term only ever reaches the terminal state, which is never a decision and never
  read by an earlier turn (the transformer is causal), so it needs no scaling as an input.
- legal: the encoder's mask with the taken action forced legal (the encoder's mask is an
  estimate: a move whose estimated pp is 0 can still have been chosen).

Critic (per gamma g, on every real transition whose action is known, `mask`):
    y_t = r_t + g * (1 - done_t) * sum_a pi(a|s_{t+1}) Q_target(s_{t+1}, a)
    loss = mean (Q(s_t, a_t) - y_t)^2
with r = reward_scale * shaped reward. Metamon's shaped reward is a few units per turn plus
+-100 at the end; `reward_scale` 0.01 brings the win/loss term to +-1, so values stay within a
few units whatever the discount and a plain MSE is well conditioned. The target is a copy
of the critic *head* only (`PolicyModel.critic_head`), applied to the online trunk's
features (detached): no second forward pass through the transformers. It moves towards the
online head by Polyak averaging (`target_tau`) every `target_every` optimizer steps; with
tau 1 and target_every 1 no copy is kept and the online head, detached, is the target.

Actor (on every known action, `mask`): cross-entropy of the taken action under the masked
logits, weighted by
- "binary" (Metamon's filter): 1 where the advantage A(s_t, a_t) > 0, else 0, with
  A(s, a) = Q(s, a) - sum_b pi(b|s) Q(s, b) from the online critic (detached) at
  g = `filter_gamma` (default 0.999; `None` averages the advantages of all gammas). Unlike
  a one-step TD error of a state value, this does not flip sign with damage rolls and
  crits: Q averages over what followed the action in every battle that took it.
- "none": 1 everywhere, i.e. plain behaviour cloning.
The weighted sum is divided by the number of known actions, so the filter scales the actor's
gradient down as it discards more (as in AMAGO/Metamon).

With `bc_coef` > 0 the actor also gets bc_coef x the plain cross-entropy of every known
action (as TD3+BC does for continuous actions): on small or mixed data the filter alone can
follow the policy to actions the data never took, whose Q nothing corrects, and V = E_pi Q
then rises above every taken action, so the filter keeps less and less (seen on the arena's
mixed data: 48% kept at step 500, 10% at 1,500, the policy agreeing with 18% of actions).

Loss = actor + critic_coef * critic. `stats` (detached tensors; no GPU sync) holds: loss,
actor, critic, bc (the unweighted cross-entropy of the taken actions), filtered (the fraction
of known actions the filter keeps), accuracy (argmax == taken action), value (mean V at the
filter's gamma) and advantage (the mean A of the taken actions).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.checkpoint import unwrap
from training.model import ModelOutput

ACTOR_FILTERS = ("binary", "none")


# --------------------------------------------------------------------------------------
# inputs


def shift_right(x: torch.Tensor, fill: float) -> torch.Tensor:
    """(B, T) -> (B, T + 1): out[:, 0] = fill, out[:, t + 1] = x[:, t]."""
    out = x.new_full((x.size(0), x.size(1) + 1), fill)
    out[:, 1:] = x
    return out


def legal_with_taken(legal: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The mask (B, T + 1, A) with legal[b, t, actions[b, t]] set wherever actions[b, t] >= 0."""
    T = actions.size(1)
    taken = F.one_hot(actions.clamp(min=0), legal.size(-1)).bool()  # (B, T, A)
    taken &= (actions >= 0).unsqueeze(-1)
    legal = legal.clone()
    legal[:, :T] |= taken
    return legal


def model_inputs(batch: Any) -> dict[str, torch.Tensor]:
    """The keyword arguments of PolicyModel.forward for all T + 1 states of a Batch (padded
    or packed: `training.packing`; a packed batch's tokens and numbers are compact)."""
    s = batch.states
    inputs = dict(
        tokens=s["tokens"],  # (B, T + 1, n_tokens), packed: (N, n_tokens)
        numbers=s["numbers"],  # (B, T + 1, n_numbers), packed: (N, n_numbers)
        prev_action=shift_right(batch.actions, -1),  # (B, T + 1)
        prev_reward=shift_right(batch.rewards, 0.0),  # (B, T + 1), raw shaped reward
        legal=legal_with_taken(s["legal"], batch.actions),  # (B, T + 1, A)
    )
    if getattr(batch, "turn_index", None) is not None:
        inputs.update(
            positions=batch.positions, segments=batch.segments, turn_index=batch.turn_index
        )
    return inputs


class StepBatch(NamedTuple):
    """The tensors of a Batch the loss reads: what a compiled step takes as its input."""

    states: dict[str, torch.Tensor]
    actions: torch.Tensor
    mask: torch.Tensor
    valid: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    positions: torch.Tensor | None
    segments: torch.Tensor | None
    turn_index: torch.Tensor | None

    @classmethod
    def of(cls, batch: Any) -> StepBatch:
        return cls(
            states={k: batch.states[k] for k in ("tokens", "numbers", "legal")},
            actions=batch.actions,
            mask=batch.mask,
            valid=batch.valid,
            rewards=batch.rewards,
            dones=batch.dones,
            positions=getattr(batch, "positions", None),
            segments=getattr(batch, "segments", None),
            turn_index=getattr(batch, "turn_index", None),
        )

    def mark_dynamic(self) -> None:
        """Tell torch.compile which sizes change from batch to batch (rows, windows'
        length, the compact turns), so one graph serves them all."""
        packed = self.turn_index is not None
        for t in (self.actions, self.mask, self.valid, self.rewards, self.dones):
            torch._dynamo.maybe_mark_dynamic(t, 0 if packed else 1)
        for key, t in self.states.items():
            torch._dynamo.maybe_mark_dynamic(t, 0 if packed and key != "legal" else 1)
        if packed:
            for t in (self.positions, self.segments, self.turn_index, self.states["legal"]):
                torch._dynamo.maybe_mark_dynamic(t, 0)


# --------------------------------------------------------------------------------------
# the loss terms, on plain tensors


def td_targets(
    rewards: torch.Tensor,  # (B, T), already scaled
    dones: torch.Tensor,  # (B, T) bool
    next_values: torch.Tensor,  # (B, T, G): V(s_{t+1}) per gamma
    gammas: torch.Tensor,  # (G,)
) -> torch.Tensor:
    """y_t = r_t + gamma * (1 - done_t) * V(s_{t+1}), per gamma: (B, T, G)."""
    not_done = (~dones).unsqueeze(-1).to(next_values.dtype)  # (B, T, 1)
    return rewards.unsqueeze(-1) + gammas * not_done * next_values


def policy_values(logits: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """V(s) = sum_a pi(a|s) Q(s, a) per gamma: logits (..., A) masked, q (..., A, G) -> (..., G).
    pi is the masked softmax of the logits, detached (illegal actions weigh 0)."""
    pi = F.softmax(logits.detach().float(), dim=-1)  # (..., A)
    return (pi.unsqueeze(-1) * q).sum(-2)


def taken(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Q(s_t, a_t): q (B, T, A, G), actions (B, T) (-1 read as 0; mask it) -> (B, T, G)."""
    index = actions.clamp(min=0)[..., None, None].expand(*actions.shape, 1, q.size(-1))
    return q.gather(-2, index).squeeze(-2)


def critic_loss(values: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared TD error over the turns of `valid` ((B, T)) and all gammas."""
    err = (values - targets.detach()).pow(2).mean(-1)  # (B, T)
    w = valid.to(err.dtype)
    return (err * w).sum() / w.sum().clamp(min=1.0)


def actor_weights(advantages: torch.Tensor, actor_filter: str) -> torch.Tensor:
    """Per-turn weights of the cross-entropy: binary 1[A > 0], or 1 everywhere ("none")."""
    if actor_filter == "binary":
        return (advantages > 0).to(advantages.dtype)
    if actor_filter == "none":
        return torch.ones_like(advantages)
    raise ValueError(f"actor_filter={actor_filter!r}: choose one of {ACTOR_FILTERS}")


def actor_loss(
    logits: torch.Tensor,  # (B, T, A), illegal actions masked
    actions: torch.Tensor,  # (B, T) int64, -1 hidden or padding
    mask: torch.Tensor,  # (B, T) bool, a real turn with a known action
    weights: torch.Tensor,  # (B, T) float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted cross-entropy of the taken actions, over known actions only.

    Written without boolean indexing (no data-dependent shapes, no GPU sync): masked-out
    turns get weight 0, and their action index is clamped to 0 only to keep `gather` legal.
    """
    known = (mask & (actions >= 0)).to(logits.dtype)  # (B, T)
    n = known.sum().clamp(min=1.0)
    logp = F.log_softmax(logits, dim=-1)  # (B, T, A)
    nll = -logp.gather(-1, actions.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    w = weights * known
    hit = (logits.argmax(-1) == actions).to(logits.dtype) * known
    stats = {
        "bc": (nll * known).sum() / n,
        "filtered": w.sum() / n,
        "accuracy": hit.sum() / n,
    }
    return (nll * w).sum() / n, stats


# --------------------------------------------------------------------------------------
# the learner


class OfflineRL:
    """The loss of one batch and the target critic head, around a PolicyModel.

    `model` is what the forward pass goes through (the PolicyModel, or it wrapped by DDP
    and/or torch.compile); the target is a copy of the PolicyModel's `critic_head`.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        actor_filter: str = "binary",
        filter_gamma: float | None = 0.999,
        critic_coef: float = 10.0,
        bc_coef: float = 0.0,
        reward_scale: float = 0.01,
        target_tau: float = 0.005,
        target_every: int = 1,
    ) -> None:
        if actor_filter not in ACTOR_FILTERS:
            raise ValueError(f"actor_filter={actor_filter!r}: choose one of {ACTOR_FILTERS}")
        if not 0.0 < target_tau <= 1.0:
            raise ValueError(f"target_tau={target_tau}: must be in (0, 1]")
        if target_every < 1:
            raise ValueError(f"target_every={target_every}: must be at least 1")
        base = unwrap(model)
        gammas = tuple(base.config.gammas)
        if filter_gamma is None:
            self.gamma_index: int | None = None
        elif filter_gamma in gammas:
            self.gamma_index = gammas.index(filter_gamma)
        else:
            raise ValueError(
                f"filter_gamma={filter_gamma} is not one of the model's gammas {list(gammas)} "
                "(or null: the mean over them)"
            )
        self.model = model
        self.actor_filter = actor_filter
        self.critic_coef = critic_coef
        if bc_coef < 0:
            raise ValueError(f"bc_coef={bc_coef}: must be 0 or more")
        self.bc_coef = bc_coef
        self.reward_scale = reward_scale
        self.target_tau = target_tau
        self.target_every = target_every
        self.target: nn.Module | None = None
        if target_tau < 1.0 or target_every > 1:
            self.target = copy.deepcopy(base.critic_head).requires_grad_(False)
        self._updates = 0
        self._compiled: Any = None  # the whole step under torch.compile (see `compile`)
        device = next(base.parameters()).device
        self.gammas = torch.tensor(gammas, dtype=torch.float32, device=device)  # (G,)

    def target_q(self, out: ModelOutput) -> torch.Tensor:
        """Q_target(s, a) over every state and action: (B, T + 1, A, G), no gradient."""
        h, keys = (t.detach() for t in out.features)
        with torch.no_grad():
            if self.target is None:
                return out.q.detach()
            return self.target(h, keys).float()

    def loss(
        self, batch: Any, *, compiled: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training loss of one batch and its terms (run it under autocast); through
        the compiled step when `compile` was called, unless `compiled` is False."""
        if compiled and self._compiled is not None:
            step = StepBatch.of(batch)
            step.mark_dynamic()
            return self._compiled(step)
        return self.step_loss(batch)

    def step_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The forward pass, the target critic and the loss: what `compile` compiles."""
        out: ModelOutput = self.model(**model_inputs(batch))  # logits (B, T + 1, A), q (.., G)
        return self.loss_from_outputs(out, self.target_q(out), batch)

    def compile(self, **options: Any) -> None:
        """Compile the whole step (`step_loss`: the model, the target head's Q values and
        the losses) into one graph with torch.compile; its backward is compiled with it.
        Attention goes through SDPA inside it (`training.transformer.attend`)."""
        self._compiled = torch.compile(self.step_loss, **options)

    def loss_from_outputs(
        self, out: ModelOutput, target_q: torch.Tensor, batch: Any
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss given the model's outputs and the target's Q over all T + 1 states."""
        T = batch.actions.size(1)
        logits = out.logits[:, :T]  # (B, T, A): the decisions
        q_taken = taken(out.q[:, :T], batch.actions)  # (B, T, G): Q(s_t, a_t)
        rewards = batch.rewards * self.reward_scale  # (B, T)
        known = batch.mask & (batch.actions >= 0)  # (B, T)

        with torch.no_grad():
            next_v = policy_values(out.logits[:, 1:], target_q[:, 1:])  # (B, T, G)
            y = td_targets(rewards, batch.dones, next_v, self.gammas)  # (B, T, G)
        critic = critic_loss(q_taken, y, known)

        with torch.no_grad():
            q = out.q[:, :T].detach()
            v = policy_values(logits, q)  # (B, T, G)
            adv = q_taken.detach() - v
            if self.gamma_index is None:
                adv, v = adv.mean(-1), v.mean(-1)  # (B, T)
            else:
                adv, v = adv[..., self.gamma_index], v[..., self.gamma_index]
            weights = actor_weights(adv, self.actor_filter)
        actor, stats = actor_loss(logits, batch.actions, batch.mask, weights)
        if self.bc_coef > 0 and self.actor_filter != "none":
            actor = actor + self.bc_coef * stats["bc"]

        loss = actor + self.critic_coef * critic
        valid = batch.valid.to(v.dtype)
        n_valid = valid.sum().clamp(min=1.0)
        k = known.to(adv.dtype)
        stats = {
            "loss": loss.detach(),
            "actor": actor.detach(),
            "critic": critic.detach(),
            **{k: t.detach() for k, t in stats.items()},
            "value": (v * valid).sum() / n_valid,
            "advantage": (adv * k).sum() / k.sum().clamp(min=1.0),
        }
        return loss, stats

    @torch.no_grad()
    def update_target(self) -> None:
        """After each optimizer step; every `target_every` calls, target moves tau to online."""
        self._updates += 1
        if self.target is None or self._updates % self.target_every:
            return
        online = unwrap(self.model).critic_head.state_dict()
        pairs = [(t, online[k]) for k, t in self.target.state_dict().items()]
        floats = [(t, o) for t, o in pairs if t.is_floating_point()]
        if floats:
            targets, sources = zip(*floats, strict=True)
            torch._foreach_lerp_(list(targets), list(sources), self.target_tau)
        for t, o in pairs:
            if not t.is_floating_point():
                t.copy_(o)

    def state_dict(self) -> dict[str, Any]:
        target = self.target.state_dict() if self.target is not None else None
        return {"target": target, "updates": self._updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.target is not None:
            head = unwrap(self.model).critic_head
            saved = state.get("target")
            if saved is None or set(saved) != set(head.state_dict()):
                # the run had no target (or a whole-model one): start it from the head
                self.target.load_state_dict(head.state_dict())
            else:
                self.target.load_state_dict(saved)
        self._updates = int(state.get("updates", 0))
