"""PyTorch spatio-temporal forecaster: a GRU encoder per station and a wind-dependent station graph.

Design (after PM2.5-GNN, Wang et al. 2020):

1. **Encoder**: one GRU, shared by all stations, reads the last ``window`` hours of the station's
   standardised target anomaly (observation minus the training climatology of that hour and month),
   the raw target, its missing-value mask, the covariates (other pollutants, weather, wind u/v) and
   the local hour.
2. **Graph**: every station receives messages from its ``k`` nearest stations. The attention
   weight of an edge ``j -> s`` depends on both hidden states, the distance and the *advection*
   term ``wind_j . e_js`` (the wind at ``j`` at issue time projected on the unit vector from ``j``
   to ``s``), so that upwind stations count more when the wind blows towards ``s``.
3. **Decoder**: for each lead, an MLP of the station state, its messages, a station embedding, the
   lead, the local hour and the climatology of the target time gives the mean anomaly and
   non-crossing quantiles (a base value plus cumulative softplus steps), added to a learned
   per-lead damping of the last observed anomaly (a skip connection: damped persistence).
4. **Forecast weather** (when the panel carries a weather-forecast feed, ``Panel.nwp``): the
   decoder of each lead also reads the features of the newest NWP run visible at the issue time
   at the lead's *valid* time (:func:`features.nwp_features.valid_time_features`), each channel
   standardised with a centre and scale fitted on the training period, NaN set to 0 (the centre)
   after standardising, plus one "weather available" flag per lead (1 when a visible run reaches
   the valid time). This is PM2.5-GNN's future-weather input, taken from forecasts rather than
   observations, so it is leak-free by construction.

Loss: mean-squared error of the mean plus pinball loss of the quantiles, in standardised units,
each lead weighted by the inverse squared training error of anomaly persistence at that lead (so
that short leads, whose errors are small, are not drowned by long ones).
Early stopping on the same validation weeks as LightGBM (every ``validation_every``-th week of the
training period); the test period is never seen. Training is deterministic for a given seed on CPU.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from features.forecast_features import Panel, weather_forecast_rows
from features.geo import local_xy_km
from features.nwp_features import PREFIX
from features.times import to_local
from models.forecast.base import Forecast, Forecaster, register_forecaster
from models.forecast.baselines import climatology_table
from models.forecast.calibration import apply_band_scale, fit_band_scale, fit_shrinkage

__all__ = ["SpatioTemporalForecaster", "StationGraphNet", "station_graph"]


def station_graph(lat: np.ndarray, lon: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour graph of stations.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Station coordinates [degrees]; NaN coordinates get neighbours in index order.
    k : int
        Neighbours per station (capped at ``S - 1``).

    Returns
    -------
    neighbours : numpy.ndarray
        ``S x K`` int indices of the source stations ``j`` of each receiving station ``s``.
    geometry : numpy.ndarray
        ``S x K x 3``: distance [km], and the east and north components of the unit vector from
        ``j`` to ``s``.
    """
    S = len(lat)
    K = max(min(k, S - 1), 0)
    la = np.nan_to_num(np.asarray(lat, float))
    lo = np.nan_to_num(np.asarray(lon, float))
    # local tangent-plane coordinates [km] (stations of one network are close together)
    x, y = local_xy_km(la, lo, float(la.mean()) if S else 0.0, float(lo.mean()) if S else 0.0)
    dx = x[None, :] - x[:, None]  # [s, j] = x_j - x_s
    dy = y[None, :] - y[:, None]
    dist = np.hypot(dx, dy)
    np.fill_diagonal(dist, np.inf)
    nbr = np.argsort(dist, axis=1, kind="stable")[:, :K]
    rows = np.arange(S)[:, None]
    d = dist[rows, nbr]
    # unit vector from j to s = -(x_j - x_s) / d
    with np.errstate(invalid="ignore", divide="ignore"):
        ex = np.where(d > 0, -dx[rows, nbr] / d, 0.0)
        ey = np.where(d > 0, -dy[rows, nbr] / d, 0.0)
    d = np.where(np.isfinite(d), d, 0.0)
    return nbr.astype(np.int64), np.stack([d, ex, ey], axis=-1)


class StationGraphNet(nn.Module):
    """GRU encoder, wind-aware graph attention over neighbours, per-lead MLP decoder.

    Parameters
    ----------
    n_inputs : int
        Channels per station and hour.
    n_stations : int
        Stations (for the embedding).
    n_leads : int
        Leads [h] predicted at once.
    n_quantiles : int
        Quantile outputs.
    hidden : int
        GRU and message width.
    embed, dropout : int, float
        Station-embedding width and decoder dropout.
    n_lead_channels : int
        Channels of the per-lead features read by the decoder (default 3: local hour sin/cos and
        climatology of the target time; more with forecast weather).
    """

    def __init__(
        self,
        n_inputs: int,
        n_stations: int,
        n_leads: int,
        n_quantiles: int,
        hidden: int = 64,
        embed: int = 8,
        dropout: float = 0.1,
        n_lead_channels: int = 3,
    ):
        super().__init__()
        self.n_leads, self.n_quantiles = n_leads, n_quantiles
        self.n_lead_channels = n_lead_channels
        self.gru = nn.GRU(n_inputs, hidden, batch_first=True)
        self.edge = nn.Sequential(
            nn.Linear(2 * hidden + 4, hidden), nn.GELU(), nn.Linear(hidden, 1)
        )
        self.message = nn.Linear(hidden + 4, hidden)
        self.station = nn.Embedding(n_stations, embed)
        self.lead = nn.Embedding(n_leads, 8)
        # damped persistence of the last anomaly, learned per lead (a skip connection)
        self.rho = nn.Parameter(torch.exp(-torch.arange(n_leads, dtype=torch.float32) / 24.0))
        width = 2 * hidden + embed + 8 + n_lead_channels
        self.decoder = nn.Sequential(
            nn.Linear(width, 2 * hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1 + n_quantiles),
        )

    def forward(
        self,
        x: torch.Tensor,
        wind: torch.Tensor,
        lead_feats: torch.Tensor,
        nbr: torch.Tensor,
        geom: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict standardised anomalies.

        Parameters
        ----------
        x : torch.Tensor
            ``B x S x W x C`` inputs.
        wind : torch.Tensor
            ``B x S x 2`` wind u, v at issue time [m s-1] (0 where unknown).
        lead_feats : torch.Tensor
            ``B x S x L x n_lead_channels``: local hour sin/cos and standardised climatology of
            the target time, then the standardised forecast weather and its availability flag
            (when the model uses a weather-forecast feed).
        nbr : torch.Tensor
            ``S x K`` neighbour indices.
        geom : torch.Tensor
            ``S x K x 3`` distance [km] and unit vector from neighbour to station.

        Returns
        -------
        mean : torch.Tensor
            ``B x S x L``.
        quantiles : torch.Tensor
            ``B x S x L x Q`` (non-decreasing along Q).
        """
        B, S, W, C = x.shape
        _, h = self.gru(x.reshape(B * S, W, C))
        h = h[-1].reshape(B, S, -1)
        if nbr.shape[1] > 0:
            hj = h[:, nbr]  # B x S x K x H
            wj = wind[:, nbr]  # B x S x K x 2
            advect = (wj * geom[None, :, :, 1:]).sum(-1, keepdim=True) / 5.0
            dist = geom[None, :, :, :1].expand(B, -1, -1, -1) / 50.0
            speed = wj.norm(dim=-1, keepdim=True) / 5.0
            inv = 1.0 / (1.0 + dist)
            e = torch.cat([advect, dist, speed, inv], dim=-1)
            hs = h[:, :, None, :].expand(-1, -1, nbr.shape[1], -1)
            logits = self.edge(torch.cat([hs, hj, e], dim=-1)).squeeze(-1)
            alpha = torch.softmax(logits, dim=-1)
            msg = (alpha[..., None] * self.message(torch.cat([hj, e], dim=-1))).sum(2)
        else:
            msg = torch.zeros_like(h)
        L = lead_feats.shape[2]
        emb = self.station.weight[None].expand(B, -1, -1)
        z = torch.cat([h, msg, emb], dim=-1)[:, :, None, :].expand(-1, -1, L, -1)
        lead = self.lead.weight[:L][None, None].expand(B, S, -1, -1)
        out = self.decoder(torch.cat([z, lead, lead_feats], dim=-1))
        anchor = self.rho[:L][None, None, :] * x[:, :, -1, 0][..., None]
        mean = anchor + out[..., 0]
        raw = out[..., 1:] + anchor[..., None]
        steps = torch.nn.functional.softplus(raw[..., 1:])
        q = torch.cat([raw[..., :1], raw[..., :1] + torch.cumsum(steps, dim=-1)], dim=-1)
        return mean, q


@register_forecaster("stgnn")
class SpatioTemporalForecaster(Forecaster):
    """Station-graph GRU forecaster (PyTorch, CPU).

    Parameters (``configs/models/stgnn.yml``)
    -----------------------------------------
    covariates : list of str
        Input variables besides the target (those not stored are skipped).
    window : int
        Hours of history read by the encoder (default 48).
    max_lead : int
        Longest lead [h] (default 72).
    hidden, neighbours, dropout : int, int, float
        Network size, graph degree and dropout.
    epochs, batch_size, learning_rate, patience : int, int, float, int
        Training schedule; early stopping on the validation weeks.
    issue_stride : int
        Hours between training issue times (default 3).
    validation_every : int
        Every n-th week of the training period validates (default 5).
    threads, seed : int
        CPU threads and random seed.
    weather_forecast : bool
        Use the panel's weather-forecast feed when it has one (default true): the features of the
        newest visible run at each lead's valid time enter the decoder (standardised on the
        training period, NaN -> 0, plus a 0/1 "weather available" channel). A model trained with
        a feed records it (``weather_feed_``) and refuses to forecast without it
        (:class:`features.forecast_features.MissingWeatherForecast`); issue times of the
        training period without a visible run train with the flag at 0.
    """

    # ------------------------------------------------------------------ data preparation
    def _variables(self, panel: Panel) -> list[str]:
        return [
            v for v in self.params.get("covariates", []) if v in panel.values and v != self.target
        ]

    def _calendar(self, panel: Panel) -> tuple[np.ndarray, np.ndarray]:
        local = to_local(panel.times, panel.time_zone)
        return local.hour.to_numpy(), local.month.to_numpy() - 1

    def _inputs(self, panel: Panel) -> tuple[np.ndarray, np.ndarray]:
        """``S x T x C`` standardised inputs (NaN -> 0) and ``S x T x 2`` wind u, v [m s-1]."""
        y = panel.values[self.target]
        hour, month = self._calendar(panel)
        clim = self.table_[:, hour, month]
        sd = self.scale_[self.target]
        chans = [
            np.nan_to_num((y - clim) / sd),
            np.nan_to_num((y - self.center_[self.target]) / sd),
            np.isfinite(y).astype(float),
        ]
        for v in self.variables_:
            x = panel.values.get(v)
            if x is None:
                x = np.full(y.shape, np.nan)
            chans.append(np.nan_to_num((x - self.center_[v]) / self.scale_[v]))
        S = y.shape[0]
        chans.append(np.broadcast_to(np.sin(2 * np.pi * hour / 24), (S, len(hour))))
        chans.append(np.broadcast_to(np.cos(2 * np.pi * hour / 24), (S, len(hour))))
        x = np.stack(chans, axis=-1).astype(np.float32)
        if "wind_u" in panel.values and "wind_v" in panel.values:
            wind = np.stack([panel.values["wind_u"], panel.values["wind_v"]], axis=-1)
            wind = np.nan_to_num(wind).astype(np.float32)
        else:
            wind = np.zeros((S, len(hour), 2), np.float32)
        return x, wind

    def _lead_features(
        self, panel: Panel, issue_idx: np.ndarray, *, training: bool = False
    ) -> np.ndarray:
        """``N x S x L x C`` per-lead decoder features (float32).

        Local hour sin/cos and standardised climatology of the target time; for a model trained
        with a weather-forecast feed, followed by :meth:`_weather_features` (``C = 3 + F + 1``).
        """
        base = self._calendar_lead_features(panel, issue_idx)
        if getattr(self, "weather_feed_", None) is None:
            return base
        wx = self._weather_features(panel, issue_idx, training=training)
        return np.concatenate([base, wx], axis=-1)

    def _raw_weather(
        self, panel: Panel, issue_idx: np.ndarray, *, training: bool
    ) -> tuple[np.ndarray, list[str]]:
        """``S x N x L x F`` forecast weather at the valid times of leads 1..``max_lead``.

        Training tolerates issue times without a visible run (NaN); otherwise
        :func:`features.forecast_features.weather_forecast_rows` refuses a panel without the
        trained feed (:class:`features.forecast_features.MissingWeatherForecast`).
        """
        leads = np.arange(1, self.max_lead_ + 1)
        wx, names, _ = weather_forecast_rows(
            panel,
            issue_idx,
            leads,
            feed=self.weather_feed_,
            variables=self.weather_variables_,
            training=training,
        )
        return wx, names

    def _weather_features(
        self, panel: Panel, issue_idx: np.ndarray, *, training: bool = False
    ) -> np.ndarray:
        """``N x S x L x (F + 1)``: standardised forecast weather (NaN -> 0) and its 0/1 flag.

        The flag is 1 where a run visible at the issue time reaches the lead's valid time.
        """
        wx, names = self._raw_weather(panel, issue_idx, training=training)
        avail = np.isfinite(wx[..., names.index(f"{PREFIX}age")])
        z = (wx - self.weather_center_) / self.weather_scale_
        z = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
        out = np.concatenate([z, avail[..., None]], axis=-1).astype(np.float32)
        return out.transpose(1, 0, 2, 3)

    def _fit_weather_scaling(self, panel: Panel, issue_idx: np.ndarray, last: int) -> None:
        """Centre and scale of each forecast-weather channel over the training period.

        Uses the training issue times and valid times ``<= last`` only; two passes in chunks of
        issue times (the full ``S x N x L x F`` cube is never held).
        """
        L = self.max_lead_
        chunks = [issue_idx[i : i + 256] for i in range(0, len(issue_idx), 256)]

        def masked(idx: np.ndarray) -> np.ndarray:
            wx, names = self._raw_weather(panel, idx, training=True)
            self.weather_names_ = names
            inside = idx[:, None] + np.arange(1, L + 1)[None, :] <= last  # N x L
            return np.where(inside[None, :, :, None], wx.astype(np.float64), np.nan)

        total = count = None
        for idx in chunks:
            a = masked(idx)
            s, n = np.nansum(a, axis=(0, 1, 2)), np.isfinite(a).sum(axis=(0, 1, 2))
            total, count = (s, n) if total is None else (total + s, count + n)
        with np.errstate(invalid="ignore", divide="ignore"):
            center = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        sq = np.zeros_like(center)
        for idx in chunks:
            sq += np.nansum((masked(idx) - center) ** 2, axis=(0, 1, 2))
        scale = np.sqrt(sq / np.maximum(count, 1))
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.weather_center_ = np.where(np.isfinite(center), center, 0.0).astype(np.float32)
        self.weather_scale_ = scale.astype(np.float32)

    def _calendar_lead_features(self, panel: Panel, issue_idx: np.ndarray) -> np.ndarray:
        """``N x S x L x 3``: local hour sin/cos and standardised climatology of the target time."""
        L = self.max_lead_
        target = panel.times[issue_idx].values[:, None] + np.arange(1, L + 1).astype(
            "timedelta64[h]"
        )
        local = to_local(pd.DatetimeIndex(target.ravel()), panel.time_zone)
        hour = local.hour.to_numpy().reshape(len(issue_idx), L)
        month = local.month.to_numpy().reshape(len(issue_idx), L) - 1
        clim = self.table_[:, hour, month]  # S x N x L
        clim = (clim - self.center_[self.target]) / self.scale_[self.target]
        S = clim.shape[0]
        hs = np.broadcast_to(np.sin(2 * np.pi * hour / 24)[None], (S, *hour.shape))
        hc = np.broadcast_to(np.cos(2 * np.pi * hour / 24)[None], (S, *hour.shape))
        return np.stack([hs, hc, clim], axis=-1).transpose(1, 0, 2, 3).astype(np.float32)

    def _windows(self, x: np.ndarray, issue_idx: np.ndarray) -> np.ndarray:
        """``N x S x W x C`` input windows ending at each issue time (zero-padded at the start)."""
        W = self.window_
        pad = np.zeros((x.shape[0], W - 1, x.shape[2]), np.float32)
        xp = np.concatenate([pad, x], axis=1)
        idx = issue_idx[:, None] + np.arange(W)[None, :]  # in padded coordinates
        return xp[:, idx].transpose(1, 0, 2, 3)

    def _targets(
        self, panel: Panel, issue_idx: np.ndarray, last: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Standardised target anomalies ``N x S x L`` and their validity mask (times <= last)."""
        y = panel.values[self.target]
        hour, month = self._calendar(panel)
        anom = (y - self.table_[:, hour, month]) / self.scale_[self.target]
        t = issue_idx[:, None] + np.arange(1, self.max_lead_ + 1)[None, :]
        ok_t = t <= last
        t = np.minimum(t, y.shape[1] - 1)
        out = anom[:, t].transpose(1, 0, 2)  # N x S x L
        ok = np.isfinite(out) & ok_t[:, None, :]
        return np.nan_to_num(out).astype(np.float32), ok

    # ------------------------------------------------------------------ fit / predict
    def fit(self, panel: Panel, train_end: pd.Timestamp) -> SpatioTemporalForecaster:
        """Train on data up to ``train_end`` (UTC) with early stopping on validation weeks."""
        p = self.params
        seed = int(p.get("seed", 0))
        torch.manual_seed(seed)
        torch.set_num_threads(int(p.get("threads", 2)))
        rng = np.random.default_rng(seed)
        self.window_ = int(p.get("window", 48))
        self.max_lead_ = int(p.get("max_lead", 72))
        mask = np.asarray(panel.times <= pd.Timestamp(train_end))
        last = int(np.flatnonzero(mask)[-1])
        self.table_ = climatology_table(panel, self.target, mask)
        self.variables_ = self._variables(panel)
        self.center_, self.scale_ = {}, {}
        for v in [self.target, *self.variables_]:
            a = panel.values[v][:, mask]
            c, s = float(np.nanmean(a)), float(np.nanstd(a))
            self.center_[v] = c if np.isfinite(c) else 0.0
            self.scale_[v] = s if np.isfinite(s) and s > 0 else 1.0
        self.stations_ = list(panel.stations)
        use_wx = panel.nwp is not None and bool(p.get("weather_forecast", True))
        self.weather_feed_ = panel.nwp.feed if use_wx else None
        self.weather_variables_ = sorted(panel.nwp.values) if use_wx else []
        self.weather_synthetic_ = bool(panel.nwp.synthetic) if use_wx else False
        nbr, geom = station_graph(panel.lat, panel.lon, int(p.get("neighbours", 8)))
        self.graph_ = (nbr, geom.astype(np.float32))
        x, wind = self._inputs(panel)
        issue_idx = np.arange(self.window_, last - 1, int(p.get("issue_stride", 3)))
        weeks = ((panel.times[issue_idx] - panel.times[issue_idx[0]]) / pd.Timedelta("7D")).astype(
            int
        )
        is_val = np.asarray(weeks % int(p.get("validation_every", 5)) == 0)
        yt, ok = self._targets(panel, issue_idx, last)
        usable = ok.any(axis=(1, 2))
        # every lead weighs the same: errors are divided by the training error of persistence of
        # the anomaly at that lead (as LightGBM standardises its residual by lead)
        a_now = x[:, issue_idx, 0].T  # N x S
        err = np.where(ok, yt - a_now[..., None], np.nan)[~is_val]
        with np.errstate(invalid="ignore"):
            s_lead = np.sqrt(np.nanmean(err.reshape(-1, self.max_lead_) ** 2, axis=0))
        s_lead = np.clip(np.nan_to_num(s_lead, nan=1.0), 0.05, 1.0)
        lead_w = torch.from_numpy((1.0 / s_lead**2).astype(np.float32))
        tr = issue_idx[~is_val & usable]
        va = issue_idx[is_val & usable]
        pos = {int(i): k for k, i in enumerate(issue_idx)}
        n_lead_channels = 3
        if use_wx:
            self._fit_weather_scaling(panel, issue_idx, last)
            n_lead_channels += len(self.weather_names_) + 1
        net = StationGraphNet(
            n_inputs=x.shape[-1],
            n_stations=len(panel.stations),
            n_leads=self.max_lead_,
            n_quantiles=len(self.quantiles),
            hidden=int(p.get("hidden", 64)),
            dropout=float(p.get("dropout", 0.1)),
            n_lead_channels=n_lead_channels,
        )
        opt = torch.optim.AdamW(
            net.parameters(),
            lr=float(p.get("learning_rate", 2e-3)),
            weight_decay=float(p.get("weight_decay", 1e-4)),
        )
        nbr_t, geom_t = torch.from_numpy(nbr), torch.from_numpy(self.graph_[1])
        levels = torch.tensor(self.quantiles, dtype=torch.float32)
        batch = int(p.get("batch_size", 32))

        # calendar lead features of every issue time (small); forecast weather (N x S x L x F,
        # large) is built batch by batch
        lead_all = self._calendar_lead_features(panel, issue_idx)

        def lead_of(idx: np.ndarray, k: np.ndarray) -> np.ndarray:
            if not use_wx:
                return lead_all[k]
            wx = self._weather_features(panel, idx, training=True)
            return np.concatenate([lead_all[k], wx], axis=-1)

        def tensors(idx: np.ndarray):
            k = np.array([pos[int(i)] for i in idx])
            return (
                torch.from_numpy(self._windows(x, idx)),
                torch.from_numpy(wind[:, idx].transpose(1, 0, 2).copy()),
                torch.from_numpy(lead_of(idx, k)),
                torch.from_numpy(yt[k]),
                torch.from_numpy(ok[k].astype(np.float32)),
            )

        def loss_of(batch_t, train: bool) -> torch.Tensor:
            xb, wb, lb, yb, mb = batch_t
            mean, q = net(xb, wb, lb, nbr_t, geom_t)
            w = mb * lead_w
            n = mb.sum().clamp(min=1.0)
            mse = (((mean - yb) ** 2) * w).sum() / n
            d = yb[..., None] - q
            pin = (torch.maximum(levels * d, (levels - 1) * d) * w[..., None]).sum() / n
            return mse + pin

        val_batches = [tensors(va[i : i + 256]) for i in range(0, len(va), 256)]
        best, best_state, bad = np.inf, None, 0
        self.history_: list[dict[str, float]] = []
        t0 = time.perf_counter()
        for epoch in range(int(p.get("epochs", 40))):
            net.train()
            order = rng.permutation(tr)
            total = 0.0
            for i in range(0, len(order), batch):
                loss = loss_of(tensors(order[i : i + batch]), True)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(order[i : i + batch])
            net.eval()
            with torch.no_grad():
                vl = sum(float(loss_of(b, False)) * len(b[0]) for b in val_batches) / max(
                    len(va), 1
                )
            self.history_.append(
                {"epoch": epoch, "train_loss": total / max(len(tr), 1), "val_loss": vl}
            )
            if vl < best - 1e-4:
                best, best_state, bad = vl, copy.deepcopy(net.state_dict()), 0
            else:
                bad += 1
                if bad >= int(p.get("patience", 5)):
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self.net_ = net
        # calibration on the validation weeks: shrink the mean anomaly, scale the quantile band
        if len(va):
            m_val, q_val = self._raw_predict(x, wind, panel, va, training=True)
            k = np.array([pos[int(i)] for i in va])
            obs = np.where(ok[k], yt[k], np.nan)
            lead = np.broadcast_to(np.arange(1, self.max_lead_ + 1), obs.shape)
            width = int(p.get("calibration_group", 6))
            self.shrink_ = fit_shrinkage(m_val, obs, lead, self.max_lead_, width)
            self.band_ = fit_band_scale(q_val, self.quantiles, obs, lead, self.max_lead_, width)
        else:
            self.shrink_ = self.band_ = np.ones(self.max_lead_)
        self.best_val_loss_ = float(best)
        self.epochs_ = len(self.history_)
        self.train_seconds_ = time.perf_counter() - t0
        self.n_train_issues_, self.n_val_issues_ = len(tr), len(va)
        return self

    def _raw_predict(
        self,
        x: np.ndarray,
        wind: np.ndarray,
        panel: Panel,
        issue_idx: np.ndarray,
        *,
        training: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Network output in standardised anomaly units: ``N x S x L`` and ``N x S x L x Q``.

        ``training`` (calibration inside :meth:`fit`) tolerates issue times without a visible
        weather-forecast run; otherwise a model trained with a feed requires it.
        """
        nbr_t = torch.from_numpy(self.graph_[0])
        geom_t = torch.from_numpy(self.graph_[1])
        torch.set_num_threads(int(self.params.get("threads", 2)))
        means, qs = [], []
        with torch.no_grad():
            for i in range(0, len(issue_idx), 256):
                idx = issue_idx[i : i + 256]
                m, q = self.net_(
                    torch.from_numpy(self._windows(x, idx)),
                    torch.from_numpy(wind[:, idx].transpose(1, 0, 2).copy()),
                    torch.from_numpy(self._lead_features(panel, idx, training=training)),
                    nbr_t,
                    geom_t,
                )
                means.append(m.numpy())
                qs.append(q.numpy())
        return np.concatenate(means), np.concatenate(qs)

    def predict(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> Forecast:
        """Forecast every station for each issue time and lead [h] (leads <= ``max_lead``)."""
        if list(panel.stations) != self.stations_:
            raise ValueError(
                f"stgnn was trained on stations {self.stations_}; got {list(panel.stations)}"
            )
        leads = np.asarray(leads, int)
        if leads.max() > self.max_lead_:
            raise ValueError(f"lead {leads.max()} h beyond the trained {self.max_lead_} h")
        issue_idx = np.asarray(issue_idx, int)
        x, wind = self._inputs(panel)
        m, q = self._raw_predict(x, wind, panel, issue_idx)
        m = m * self.shrink_
        q = apply_band_scale(q, self.quantiles, self.band_)
        mean = m.transpose(1, 0, 2)[:, :, leads - 1]  # S x N x L
        q = q.transpose(1, 0, 2, 3)[:, :, leads - 1]
        target = panel.times[issue_idx].values[:, None] + leads.astype("timedelta64[h]")
        local = to_local(pd.DatetimeIndex(target.ravel()), panel.time_zone)
        hour = local.hour.to_numpy().reshape(len(issue_idx), len(leads))
        month = local.month.to_numpy().reshape(len(issue_idx), len(leads)) - 1
        clim = self.table_[:, hour, month]
        sd = self.scale_[self.target]
        mean = np.maximum(clim + sd * mean, 0.0)
        q = np.sort(np.maximum(clim[..., None] + sd * q, 0.0), axis=-1)
        return Forecast(mean=mean.astype(float), quantiles=q.astype(float), levels=self.quantiles)
