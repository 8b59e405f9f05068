"""Numpy-batched vector twin of :class:`~feedbackgym.envs.abr.env.AbrStreamingEnv`."""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ...config import autoreset_mode_of, override, to_dict
from .batch_sim import BatchedSessions, SlotPool
from .config import AbrConfig
from .env import draw_episode
from .setup import BUFFER_NORM_S, AbrSetup, build, components_batch, episode_metrics, linear_reward_batch
from ..vector_utils import index_mask as _mask
from ..vector_utils import reset_generators, split_reset_options
from ..vector_utils import merge_info as _merge


class AbrStreamingVectorEnv(VectorEnv):
    """``num_envs`` ABR players stepped together with numpy.

    Gives the same observations, rewards, terminations and infos as ``num_envs`` single
    :class:`AbrStreamingEnv` seeded ``seed, seed+1, ...`` (Gymnasium's convention for vector
    seeding), in Gymnasium's vector info layout (arrays plus ``_key`` masks). The per-episode
    draws (trace, start row, delay noise, synthetic trace) use one generator per sub-env, exactly
    as the single env does; the chunk physics runs batched (:mod:`.batch_sim`).

    ``autoreset_mode`` (the enum or its name, e.g. ``"SAME_STEP"``; readable back as
    ``env.autoreset_mode``), as Gymnasium's own vector envs (https://farama.org/Vector-Autoreset-Mode):

    - ``NEXT_STEP`` (Gymnasium's default): the step after an episode ends resets that sub-env,
      ignoring its action.
    - ``SAME_STEP``: the sub-env resets within the step; ``info["final_obs"]`` and
      ``info["final_info"]`` hold the finished episode's last observation and info — the form
      SB3's VecEnv expects.
    - ``DISABLED``: nothing resets by itself; the caller resets finished sub-envs with
      ``reset(options={"reset_mask": mask})`` (TorchRL's and RLlib's way). Stepping a finished
      sub-env before that raises ``RuntimeError``.

    ``reset(options={"reset_mask": mask})`` works in every mode: only the sub-envs where the
    boolean ``mask`` is true start a new episode (seeded by their entry of ``seed``, if given); the
    others keep their state and observation, and the info holds the reset sub-envs only.
    """

    def __init__(self, num_envs: int = 1, config: AbrConfig | dict | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None,
                 **overrides):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        mode = autoreset_mode_of(autoreset_mode)
        if render_mode is not None:
            raise ValueError("render_mode: the vector ABR env does not render; use the single env")
        self.num_envs = num_envs
        self.render_mode = None
        self.metadata = {"autoreset_mode": mode}
        base = config if isinstance(config, AbrConfig) else override(AbrConfig(), config)
        self._configure(build(override(base, overrides)))
        self.single_action_space = self.setup.action_space
        self.single_observation_space = self.setup.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._next_trace = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _configure(self, setup: AbrSetup) -> None:
        n, cfg = self.num_envs, setup.config
        self.setup, self.config, self.video = setup, cfg, setup.video
        self.sessions = BatchedSessions(setup.video, setup.pensieve, n, cfg.sleep_quantum_ms,
                                        noise=cfg.delay_noise is not None)
        if setup.synthetic is not None:
            spec = setup.synthetic
            self.sessions.set_pool(SlotPool(n, spec.rows, spec.rows * spec.row_s, spec.max_period_bytes))
        else:
            self.sessions.set_pool(setup.traces)
        self._weights = getattr(setup.reward_fn, "weights", None)
        self._kbps = setup.video.bitrates_kbps
        self._br_norm = setup.bitrate_mbps / setup.bitrate_mbps[-1]
        L = setup.levels
        # float32 like the single env's observation: values are rounded once, when written
        self._obs = np.zeros((n,) + setup.obs_shape, dtype=np.float32)
        self._obs_out_shape = (n,) + setup.observation_space.shape
        self._obs_spare = np.zeros_like(self._obs)  # shift target, avoids an overlapping copy
        self._last = np.full(n, -1, dtype=np.int64)
        self._trace_index = np.zeros(n, dtype=np.int64)
        self._acc = {k: np.zeros(n) for k in ("reward", "bitrate", "rebuffer", "startup")}
        self._switches = np.zeros(n, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._all = np.ones(n, dtype=bool)
        self._levels = L

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]

    @property
    def num_traces(self) -> int | None:
        return None if self.setup.traces is None else len(self.setup.traces)

    def get_config(self) -> dict:
        return to_dict(self.config)

    # ------------------------------------------------------------------------------- reset

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        # Everything that can fail is checked before anything changes: a failed reset leaves the
        # env as it was (config, generators and the episodes in progress), as the single env does.
        mask, options = split_reset_options(options, self.num_envs)
        setup = self.setup
        if "config" in options:
            setup = build(override(self.config, options.pop("config")))
            if setup.action_space != self.single_action_space or \
                    setup.observation_space != self.single_observation_space:
                raise ValueError("reset option 'config' may not change the action or observation space")
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; known: config, reset_mask")
        chosen, rngs = reset_generators(seed, mask, self._rngs, self._started)
        if setup is not self.setup:
            self._configure(setup)
        for i, rng in rngs.items():
            self._rngs[i] = rng
        self._started = True
        info = self._reset_envs(chosen)
        self._needs_reset[chosen] = False
        return self._obs.reshape(self._obs_out_shape).copy(), info

    def _reset_envs(self, idx: np.ndarray) -> dict:
        """Start a new episode in sub-envs ``idx``; returns their reset info (vector layout)."""
        setup, sessions = self.setup, self.sessions
        n = self.num_envs
        names = np.full(n, None, dtype=object)
        start_row, rtt, cap = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
        for i in idx:
            ep = draw_episode(setup, self._rngs[i], None, int(self._next_trace[i]))
            if ep.k >= 0:
                self._next_trace[i] = ep.k + 1
                slot = ep.k
            else:
                sessions.pool.write(i, ep.trace)
                slot = i
            sessions.start(i, slot, ep.row, ep.t0_s, ep.rtt_ms, ep.buffer_cap_s * 1000.0, ep.noise)
            self._trace_index[i] = ep.k
            names[i], start_row[i], rtt[i], cap[i] = ep.name, ep.row, ep.rtt_ms, ep.buffer_cap_s
        self._obs[idx] = 0.0
        for acc in self._acc.values():
            acc[idx] = 0.0
        self._switches[idx] = 0
        self._steps[idx] = 0
        if setup.pensieve:
            lvl = np.full(len(idx), self.config.first_level, dtype=np.int64)
            delay_ms, rebuf_ms, sleep_ms, size = sessions.download(lvl, idx)
            self._last[idx] = lvl
            self._observe(idx, lvl, delay_ms, size)
            chunk = self._chunk_info(idx, lvl, delay_ms, rebuf_ms, sleep_ms, size)
        else:
            self._last[idx] = -1
            self._obs[idx, 4, :self._levels] = setup.next_sizes_mb[0]
            self._obs[idx, 5, -1] = 1.0
            z = np.zeros(len(idx))
            chunk = self._chunk_info(idx, np.full(len(idx), -1), z, z, z, np.zeros(len(idx), dtype=np.int64))
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        info = {"trace_name": names, "start_row": start_row, "rtt_ms": rtt, "buffer_cap_s": cap}
        info.update({"_" + key: mask for key in list(info)})
        info.update(chunk)
        return info

    # -------------------------------------------------------------------------------- step

    def step(self, actions):
        if not self._started:
            raise RuntimeError("AbrStreamingVectorEnv.step() called before reset()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected {self.num_envs} integer levels, got {actions!r}")
        if a.min() < 0 or a.max() >= self._levels:
            bad = int(a[(a < 0) | (a >= self._levels)][0])
            raise ValueError(f"action {bad} is outside Discrete({self._levels}) (levels 0..{self._levels - 1})")
        n = self.num_envs
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(f"sub-env(s) {np.flatnonzero(self._needs_reset).tolist()} ended and autoreset_mode "
                               "is DISABLED: reset them with reset(options={'reset_mask': mask}) before stepping")
        resetting = self._needs_reset
        stepping = ~resetting
        idx = None if not resetting.any() else np.flatnonzero(stepping)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        info: dict = {}
        if idx is None or len(idx):
            r, term, info = self._step_envs(a if idx is None else a[idx], idx)
            sel = slice(None) if idx is None else idx
            rewards[sel], terminated[sel] = r, term
        if idx is not None:
            info = _merge(info, self._reset_envs(np.flatnonzero(resetting)))
        obs = self._obs.reshape(self._obs_out_shape).copy()
        if mode != AutoresetMode.SAME_STEP:
            self._needs_reset = terminated.copy()
        elif terminated.any():
            done = np.flatnonzero(terminated)
            final_obs = np.full(n, None, dtype=object)
            for i in done:
                final_obs[i] = obs[i]
            final_info = info
            info = self._reset_envs(done)
            info.update({"final_obs": final_obs, "_final_obs": terminated.copy(),
                         "final_info": final_info, "_final_info": terminated.copy()})
            obs = self._obs.reshape(self._obs_out_shape).copy()
        return obs, rewards, terminated, np.zeros(n, dtype=bool), info

    def _step_envs(self, a: np.ndarray, idx: np.ndarray | None):
        n = self.num_envs
        sel = slice(None) if idx is None else idx
        sessions = self.sessions
        first_chunk = sessions.chunk[sel] == 0
        delay_ms, rebuf_ms, sleep_ms, size = sessions.download(a, idx)
        setup = self.setup
        last = self._last[sel].copy()
        has_last = last >= 0
        lastc = np.where(has_last, last, a)  # no previous chunk: no switch
        c = components_batch(setup, a, lastc, first_chunk, rebuf_ms)
        if self._weights is not None:
            reward = linear_reward_batch(self._weights, c, len(a))
        else:
            reward = np.asarray(setup.reward_fn(c), dtype=np.float64)
            if reward.shape != a.shape or not np.all(np.isfinite(reward)):
                raise ValueError(f"reward function {setup.reward_fn!r} must return {len(a)} finite values for "
                                 f"array components, got {reward!r}")
        self._observe(idx, a, delay_ms, size)
        self._last[sel] = a
        self._steps[sel] += 1
        acc = self._acc
        acc["reward"][sel] += reward
        acc["bitrate"][sel] += c["bitrate_mbps"]
        acc["rebuffer"][sel] += c["rebuffer_s"]
        acc["startup"][sel] += c["startup_s"]
        self._switches[sel] += has_last & (a != last)
        terminated = sessions.chunk[sel] >= setup.chunks_total
        m = self._all if idx is None else _mask(idx, n)
        info = self._chunk_info(idx, a, delay_ms, rebuf_ms, sleep_ms, size)
        info["reward_components"] = {key: _spread(v, idx, n) for key, v in c.items()}
        info["reward_components"].update({"_" + key: m for key in c})
        info["_reward_components"] = m
        if terminated.any():
            done = np.zeros(n, dtype=bool)
            done[sel] = terminated
            t = np.flatnonzero(done)
            em = episode_metrics(setup, self._steps[t], acc["reward"][t], acc["bitrate"][t], acc["rebuffer"][t],
                                 self._switches[t], acc["startup"][t], self._trace_index[t])
            metrics = {}
            for key, v in em.items():
                full = np.zeros(n, dtype=np.asarray(v).dtype)
                full[t] = v
                metrics[key], metrics["_" + key] = full, done
            info["episode_metrics"], info["_episode_metrics"] = metrics, done
        return reward, terminated, info

    def _observe(self, idx, level, delay_ms, size) -> None:
        """Batched twin of ``AbrStreamingEnv._observe``."""
        setup, sessions = self.setup, self.sessions
        sel = slice(None) if idx is None else idx
        if idx is None:
            s, old = self._obs_spare, self._obs
            s[:, :, :-1] = old[:, :, 1:]
            self._obs, self._obs_spare = s, old
        else:
            old = self._obs[idx]
            s = np.empty_like(old)
            s[:, :, :-1] = old[:, :, 1:]
        # np.roll in Pensieve wraps row 4's first column to the end; keep that in pensieve mode.
        s[:, 4, -1] = old[:, 4, 0] if setup.pensieve else 0.0
        s[:, 0, -1] = self._br_norm[level]
        s[:, 1, -1] = sessions.buffer_ms[sel] / 1000.0 / BUFFER_NORM_S
        s[:, 2, -1] = size / delay_ms / 1000.0
        s[:, 3, -1] = delay_ms / 1000.0 / BUFFER_NORM_S
        chunk = sessions.chunk[sel]
        s[:, 4, :self._levels] = setup.next_sizes_mb[chunk]
        total = setup.chunks_total
        s[:, 5, -1] = np.minimum(total - chunk, total) / float(total)
        if idx is not None:
            self._obs[idx] = s

    def _chunk_info(self, idx, level, delay_ms, rebuf_ms, sleep_ms, size) -> dict:
        n, sessions, setup = self.num_envs, self.sessions, self.setup
        sel = slice(None) if idx is None else idx
        chunk = sessions.chunk[sel]
        values = {
            "level": np.asarray(level, dtype=np.int64),
            "chunk_index": chunk - 1,
            "next_chunk_index": chunk.copy(),
            "chunks_total": np.full(len(chunk), setup.chunks_total, dtype=np.int64),
            "chunks_left": setup.chunks_total - chunk,
            "buffer_s": sessions.buffer_ms[sel] / 1000.0,
            "rebuffer_s": rebuf_ms / 1000.0,
            "delay_ms": np.asarray(delay_ms, dtype=np.float64),
            "sleep_ms": np.asarray(sleep_ms, dtype=np.float64),
            "chunk_bytes": np.asarray(size).astype(np.int64),
            "next_chunk_bytes": setup.next_chunk_bytes[chunk],
            "trace_index": self._trace_index[sel].copy(),
        }
        m = self._all if idx is None else _mask(idx, n)
        info = {}
        for key, v in values.items():
            info[key], info["_" + key] = _spread(v, idx, n), m
        return info

    def close_extras(self, **kwargs):
        pass


def _spread(v: np.ndarray, idx, n: int) -> np.ndarray:
    """Values of sub-envs ``idx`` as a full-length array (zeros elsewhere)."""
    if idx is None:
        return v
    full = np.zeros((n,) + v.shape[1:], dtype=v.dtype)
    full[idx] = v
    return full
