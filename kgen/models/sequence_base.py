"""The base of kgen's autoregressive sequence models (WaveNet, ByteNet, the LSTM LM): loss, log_prob, sample,
checks, and their side of the model contract (`kgen.models.kgen_model`)."""

import functools

import numpy as np
import keras
from keras import ops

from kgen.distributions import LN2
from kgen.models.kgen_model import KgenModel, check_labels, first_inputs, weighted_mean_loss
from kgen.validation import check_guidance, check_int


@functools.lru_cache(maxsize=1)
def byte_tokenizer():
    """keras-nlp's (keras_hub's) `ByteTokenizer(lowercase=False)`: UTF-8 bytes as ids 0..255; detokenizing
    replaces invalid UTF-8 with U+FFFD (errors="replace")."""
    import keras_hub

    return keras_hub.tokenizers.ByteTokenizer(lowercase=False, errors="replace")


#: The highest `sample_rate` a sequence model records (384 kHz, the highest of common audio hardware).
MAX_SAMPLE_RATE = 384_000


def check_sample_rate(sample_rate, owner):
    """A sequence model's `sample_rate` argument: None (its tokens are not audio samples: text bytes, ...) or the
    samples per second of the audio it models, an int in 1..MAX_SAMPLE_RATE; a ValueError naming it otherwise."""
    if sample_rate is None:
        return None
    return check_int(sample_rate, "sample_rate", maximum=MAX_SAMPLE_RATE, owner=owner)


def generate_byte_text(model, prompt, length, sampler="top_k", seed=None, method=None, num_samples=None):
    """Continue text prompts with a byte-level `AutoregressiveSequenceModel` (256 levels); see
    `AutoregressiveSequenceModel.generate_text`."""
    owner = f"{type(model).__name__}.generate_text"
    if not model.samples_text:
        raise ValueError(f"{owner}: needs an unconditional byte model (num_levels=256, no labels or features); this "
                         f"one has num_levels={model.num_levels}, conditional={model.conditional}, locally "
                         f"conditioned={model.locally_conditioned}.")
    single = isinstance(prompt, str)
    if single:
        prompts = [prompt]
    elif isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise ValueError(f"{owner}: `prompt` must be a str or a non-empty list of str, got {prompt!r}.")
    length = check_int(length, "length", owner=owner)
    if num_samples is not None:
        if not single:
            raise ValueError(f"{owner}: `num_samples` applies to a single str `prompt`; got a list of prompts.")
        num_samples = check_int(num_samples, "num_samples", owner=owner)
    count = num_samples or 1
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31 - count - len(prompts)
    ):
        raise ValueError(f"{owner}: `seed` must be None or an int in [0, 2**31 - {count + len(prompts)}), got {seed!r}.")
    # Checked here so a bad value fails before any generation starts.
    from kgen.samplers.sequence import resolve_sampler

    resolve_sampler(sampler)
    if method is not None and method not in model.sampling_methods:
        raise ValueError(
            f"{owner}: `method` must be one of {', '.join(map(repr, model.sampling_methods))}, got {method!r}."
        )

    tokenizer = byte_tokenizer()
    texts = []
    for i, text in enumerate(prompts):
        ids = np.asarray(tokenizer(text), dtype="int32").reshape(-1)
        tokens = model.sample(
            count,
            len(ids) + length,
            seed=None if seed is None else int(seed) + i,
            prompt=ids if len(ids) else None,
            sampler=sampler,
            method=method,
        )
        texts.extend(str(tokenizer.detokenize(row.tolist())) for row in tokens)
    if single and num_samples is None:
        return texts[0]
    return texts


class AutoregressiveSequenceModel(KgenModel):
    """Base of the token-by-token sequence models (a functional subclass: the subclass builds the graph).

    The subclass's graph maps int tokens (batch, time) in 0..num_levels-1 (and, when conditional, `labels`
    (batch,) and/or local `features` (batch, time // upsample, channels)) to logits (batch, time, num_levels) whose
    step t depends only on the tokens before t. This base adds:

    - the training loss: cross-entropy in nats per token, averaged over the positions whose weight is nonzero (data
      sets yield `(x, tokens, weights)`, and keras passes the weights as `sample_weight`), so `compile(optimizer=...)`
      needs no loss;
    - the metrics `nats_per_token` and `bits_per_token` (bits per audio sample, bits per character for bytes);
    - `log_prob(tokens)`: per-sequence log-probability in nats;
    - `sample(n, length, ...)`: generation with a keras-nlp sampler, "cached" (per-layer queues, recurrent states or
      key/value caches: the incremental protocol of `kgen.models.KgenModel`) or "naive";
    - `receptive_field`: how many earlier tokens reach a prediction, which the causality test checks;
    - input validation with errors that name the argument.
    """

    #: Sampling methods; the first is the default of `sample`.
    sampling_methods = ("cached", "naive")

    #: The longest sequence the model takes (a transformer's position table and cache), or None: any length.
    max_length = None

    @property
    def sample_rate(self):
        """Samples per second of the audio this model makes (its config's `sample_rate`, `check_sample_rate`: its
        tokens are mu-law audio samples), or None: its tokens are not audio (text bytes, ...; also a config saved
        before kgen recorded the rate). It decides the model's modality: WAV or text artifacts, the unit of the
        result line, the rate of the WAV files it writes and of those `kgen compress` takes."""
        return self._kgen_config.get("sample_rate")

    @property
    def token_unit(self):
        """What a token is, for the printed result line: an audio "sample" (a model with a `sample_rate`), a
        "byte" (256 levels), else a "token"."""
        if self.sample_rate is not None:
            return "sample"
        return "byte" if self.num_levels == 256 else "token"

    def _setup_sequence(self, num_levels, num_classes=None, local_channels=None, local_upsample=1):
        self.num_levels = num_levels
        self.num_classes = num_classes
        self.local_channels = local_channels
        self.local_upsample = local_upsample
        self.nats_tracker = keras.metrics.Mean(name="nats_per_token")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_token")

    @property
    def locally_conditioned(self):
        """True when the model takes a local `features` sequence."""
        return self.local_channels is not None

    @property
    def samples_text(self):
        return self.num_levels == 256 and not self.conditional and not self.locally_conditioned

    def model_inputs(self, tokens, labels=None, features=None):
        """What the functional graph takes: the tokens, or a dict with "tokens", "labels" and/or "features"."""
        if not (self.conditional or self.locally_conditioned):
            return tokens
        inputs = {"tokens": tokens}
        if self.conditional:
            if labels is None:
                raise ValueError(f"This {type(self).__name__} is class-conditional: pass `labels`.")
            inputs["labels"] = labels
        if self.locally_conditioned:
            if features is None:
                raise ValueError(f"This {type(self).__name__} is locally conditioned: pass `features`.")
            inputs["features"] = features
        return inputs

    # ----------------------------------------------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        tokens = x["tokens"] if isinstance(x, dict) else x
        nll = ops.sparse_categorical_crossentropy(ops.cast(tokens, "int32"), ops.cast(y_pred, "float32"), from_logits=True)
        weights = ops.ones_like(nll) if sample_weight is None else ops.reshape(ops.cast(sample_weight, nll.dtype), ops.shape(nll))
        self.nats_tracker.update_state(nll, sample_weight=weights)
        self.bits_tracker.update_state(nll / LN2, sample_weight=weights)
        return weighted_mean_loss(nll, weights, self.losses)

    # ----------------------------------------------------------------------------------------------- checks
    def validate_tokens(self, tokens, name="tokens"):
        """Return `tokens` as an int32 (batch, time) array of values in 0..num_levels-1, or raise naming `name`."""
        arr = np.asarray(tokens)
        if arr.ndim != 2 or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(
                f"`{name}` must be integer tokens of shape (batch, time) for this {type(self).__name__}, "
                f"got shape {arr.shape} and dtype {arr.dtype}."
            )
        if arr.size and (np.issubdtype(arr.dtype, np.floating) and not np.all(arr == np.round(arr))):
            raise ValueError(f"`{name}` must hold integer tokens, got non-integer values.")
        if self.max_length is not None and arr.shape[1] > self.max_length:
            raise ValueError(
                f"`{name}` has {arr.shape[1]} steps; this {type(self).__name__} takes at most max_length="
                f"{self.max_length}."
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_levels):
            raise ValueError(
                f"`{name}` must hold tokens in 0..{self.num_levels - 1}, got values in [{arr.min()}, {arr.max()}]."
            )
        return arr.astype("int32")

    def validate_labels(self, labels, num, name="labels"):
        return check_labels(labels, num, self.num_classes, type(self).__name__, name)

    def validate_features(self, features, num, length, name="features"):
        """Local conditioning features (num, length // local_upsample, local_channels) as float32, or None."""
        if not self.locally_conditioned:
            if features is not None:
                raise ValueError(f"`{name}` given, but this {type(self).__name__} has no local conditioning.")
            return None
        if features is None:
            raise ValueError(f"`{name}` is required: this {type(self).__name__} is locally conditioned.")
        arr = np.asarray(features, dtype="float32")
        steps = length // self.local_upsample
        if length % self.local_upsample or arr.shape != (num, steps, self.local_channels):
            raise ValueError(
                f"`{name}` must have shape ({num}, {length} / {self.local_upsample}, {self.local_channels}) for "
                f"{length} steps (the length must be a multiple of local_upsample={self.local_upsample}), "
                f"got {arr.shape}."
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` must be finite.")
        return arr

    def _validate_data(self, data, name):
        """Check numpy arrays fully and the first batch of a tf.data.Dataset, before any training starts."""
        if data is None:
            raise ValueError(f"`{name}` is required: pass tokens of shape (batch, time) or a kgen.data data set.")
        first = first_inputs(data, name)
        needs_dict = self.conditional or self.locally_conditioned
        if isinstance(first, dict):
            if "tokens" not in first:
                raise ValueError(f"`{name}` is a dict without the key 'tokens'; got keys {sorted(first)}.")
            tokens = self.validate_tokens(first["tokens"], f"{name}['tokens']")
            if self.conditional:
                if "labels" not in first:
                    raise ValueError(f"`{name}` must hold 'labels' for this class-conditional model; got {sorted(first)}.")
                labels = np.asarray(first["labels"]).reshape(-1)
                if self.null_label is not None:  # a training set with label dropout holds the null label too
                    labels = np.where(labels == self.null_label, 0, labels)
                self.validate_labels(labels, labels.size, f"{name}['labels']")
            if self.locally_conditioned:
                if "features" not in first:
                    raise ValueError(f"`{name}` must hold 'features' for this locally conditioned model; got {sorted(first)}.")
                self.validate_features(first["features"], len(tokens), tokens.shape[1], f"{name}['features']")
        elif needs_dict:
            keys = ["tokens"] + (["labels"] if self.conditional else []) + (["features"] if self.locally_conditioned else [])
            raise ValueError(f"`{name}` must be a dict with keys {keys} for this {type(self).__name__}.")
        elif isinstance(first, (np.ndarray, list)) or hasattr(first, "shape"):
            self.validate_tokens(first, name)

    # ----------------------------------------------------------------------------------------------- inference
    def log_prob(self, tokens, labels=None, features=None, weights=None, batch_size=16):
        """Log-probability of each sequence in nats (the sum over its positions, weighted by `weights` when given),
        as a numpy float64 array of shape (batch,)."""
        batch_size = check_int(batch_size, "batch_size")
        tokens = self.validate_tokens(tokens)
        labels = self.validate_labels(labels, len(tokens))
        features = self.validate_features(features, len(tokens), tokens.shape[1])
        if weights is not None:
            weights = np.asarray(weights, dtype="float32")
            if weights.shape != tokens.shape:
                raise ValueError(f"`weights` must have the shape of `tokens` {tokens.shape}, got {weights.shape}.")
        out = []
        for i in range(0, len(tokens), batch_size):
            tb = ops.convert_to_tensor(tokens[i : i + batch_size])
            lb = None if labels is None else ops.convert_to_tensor(labels[i : i + batch_size])
            fb = None if features is None else ops.convert_to_tensor(features[i : i + batch_size])
            logits = ops.cast(self(self.model_inputs(tb, lb, fb), training=False), "float32")
            logp = -ops.convert_to_numpy(ops.sparse_categorical_crossentropy(tb, logits, from_logits=True))
            if weights is not None:
                logp = logp * weights[i : i + batch_size]
            out.append(logp.astype("float64").sum(axis=1))
        return np.concatenate(out)

    def sample(
        self,
        num_samples,
        length,
        seed=None,
        prompt=None,
        labels=None,
        features=None,
        sampler="random",
        method=None,
        batch_size=None,
        guidance=None,
    ):
        """Generate token sequences left to right.

        Args:
            num_samples: positive int.
            length: total tokens per sequence (the prompt included).
            seed: int or None (fresh randomness). The same int seed gives the same tokens with either method.
            prompt: int tokens to continue: (P,) for every sample or (num_samples, P), P <= length.
            labels: class labels (num_samples,) or one int, for a class-conditional model.
            features: local conditioning (num_samples, length // local_upsample, channels), for a locally
                conditioned model.
            sampler: "random" (sample from the softmax), "greedy", "top_k", "top_p", or a
                `keras_hub.samplers.Sampler` instance (e.g. `TopPSampler(p=0.9, temperature=0.8)`).
            method: "cached" (one step per layer per token, the default) or "naive" (re-run the
                whole network for every token).
            batch_size: sequences generated at once (default: all).
            guidance: None, or the scale w of classifier-free guidance (Ho and Salimans, 2022) for a
                class-conditional model with a `null_label` that was trained to use it (`[train] label_dropout`):
                tokens are drawn from the logits u + w (c - u) of the conditional (c) and unconditional (u) model
                (w = 1: the conditional model; larger: samples that carry their class more strongly; each step
                costs two). None: the conditional model, one pass.

        Returns:
            int32 numpy array (num_samples, length).
        """
        from kgen.samplers import sequence

        from kgen.models.kgen_model import check_sampling_args

        num_samples, batch_size, method = check_sampling_args(self, num_samples, batch_size, method)
        length = check_int(length, "length")
        if self.max_length is not None and length > self.max_length:
            raise ValueError(f"`length` must be at most max_length={self.max_length} for this "
                             f"{type(self).__name__}, got {length}.")
        sampler = sequence.resolve_sampler(sampler)
        guidance = check_guidance(self, guidance)
        labels = self.validate_labels(labels, num_samples)
        features = self.validate_features(features, num_samples, length)
        tokens = np.zeros((num_samples, length), dtype="int32")
        mask = np.zeros((num_samples, length), dtype=bool)
        given = 0  # leading tokens given in every sequence
        if prompt is not None:
            arr = np.asarray(prompt)
            if arr.ndim == 1:
                arr = np.repeat(arr[None], num_samples, axis=0)
            if arr.ndim != 2 or arr.shape[0] != num_samples or arr.shape[1] > length:
                raise ValueError(
                    f"`prompt` must be (P,) or ({num_samples}, P) tokens with P <= length={length}, got {np.shape(prompt)}."
                )
            arr = self.validate_tokens(arr, "prompt")
            given = arr.shape[1]
            tokens[:, :given] = arr
            mask[:, :given] = True
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31 - num_samples:
            raise ValueError(f"`seed` must be None or an int in [0, 2**31 - num_samples), got {seed!r}.")
        out = []
        for i in range(0, num_samples, batch_size):
            sl = slice(i, i + batch_size)
            out.append(
                sequence.generate(
                    self,
                    tokens[sl],
                    mask[sl],
                    None if labels is None else labels[sl],
                    None if features is None else features[sl],
                    sampler,
                    method,
                    int(seed) + i,
                    start=given,
                    guidance=guidance,
                )
            )
        return np.concatenate(out)

    def generate_text(self, prompt, length, sampler="top_k", seed=None, method=None, num_samples=None):
        """Continue a text prompt byte by byte.

        The prompt is tokenized with keras-nlp's `ByteTokenizer(lowercase=False)` (UTF-8 bytes), continued with
        `sample` and detokenized; byte sequences that are not valid UTF-8 become U+FFFD, so the result always
        starts with the prompt.

        Args:
            prompt: a str (may be empty), or a list of str (each continued on its own, with seed + i).
            length: int >= 1, bytes to generate after the prompt.
            sampler: "top_k" (keras-nlp's TopKSampler, k=5), "top_p", "greedy", "random", or a
                `keras_hub.samplers.Sampler` instance such as `TopPSampler(p=0.9, temperature=0.8)`.
            seed: int or None; the same int gives the same text with either method.
            method: "cached" (default) or "naive", as in `sample`.
            num_samples: None (return one str) or an int n (return n continuations of a str prompt).

        Returns:
            A str, or a list of str for a list of prompts or an int `num_samples`.
        """
        return generate_byte_text(self, prompt, length, sampler, seed, method, num_samples)

    # The incremental protocol (method "cached", `kgen.models.KgenModel`), driven by `kgen.samplers.sequence`:
    # `init_cache(batch_size, labels=None, features=None) -> cache` (conditioning goes into the cache once) and
    # `call_with_cache(previous, cache, index) -> (logits of token index, cache)`, `previous` being token index - 1.

    @property
    def coding_kinds(self):
        """`kgen compress` codes WAV audio (as mu-law codes of num_levels channels, at the model's `sample_rate`
        where it records one) with any sequence model, and files as bytes with a 256-level one."""
        return ("bytes", "audio") if self.num_levels == 256 else ("audio",)

    @property
    def coding_levels(self):
        return self.num_levels

    @property
    def coding_max_length(self):
        return self.max_length

    def coding_steps(self, batch_size, labels=None, features=None):
        """Probability tables of each token of a batch of sequences, left to right, for entropy coding (see
        `kgen.samplers.coding.SequenceSteps`)."""
        from kgen.samplers.coding import SequenceSteps

        return SequenceSteps(self, batch_size, labels=labels, features=features)

    @property
    def receptive_field(self):
        """How many tokens before step t can change the prediction of step t (subclasses provide it; `math.inf`
        for a recurrent model)."""
        raise NotImplementedError(f"{type(self).__name__} must define `receptive_field` (the causality test uses it).")

    # ----------------------------------------------------------------------------------------------- contract
    contract_checks = KgenModel.contract_checks + ("run_sequence_causality_test", "run_sequence_sampling_test",
                                                   "run_export_after_use_test")

    def example_inputs(self, batch_size=2, seed=0, length=10):
        rng = np.random.default_rng(seed)
        length += (-length) % self.local_upsample
        x = rng.integers(0, self.num_levels, (batch_size, length)).astype("int32")
        return {"x": x, **self.example_conditioning(x, seed)}

    def example_conditioning(self, x, seed=0):
        """Class labels 0, 1, 2, ... (a class-conditional model) and random local features matching the length of
        `x` (a locally conditioned one)."""
        kwargs = super().example_conditioning(x, seed)
        if self.locally_conditioned:
            n, t = np.shape(x)
            rng = np.random.default_rng(seed)
            kwargs["features"] = rng.normal(size=(n, t // self.local_upsample, self.local_channels)).astype("float32")
        return kwargs

    def reference_outputs(self, x, labels=None, features=None):
        return self.log_prob(x, labels=labels, features=features)

    def evaluation_summary(self, result, data, dataset):
        """The mean over every scored token of the split (audio samples, text bytes)."""
        num_tokens, num_examples = 0.0, 0
        for _, _, weights in data.as_numpy_iterator():
            num_tokens += float(weights.sum())
            num_examples += len(weights)
        return {
            "num_examples": num_examples,
            "num_tokens": int(round(num_tokens)),
            "nats_per_token": float(result["nats_per_token"]),
            "bits_per_token": float(result["bits_per_token"]),
        }

    def result_line(self, model_name, summary):
        unit = self.token_unit
        return (
            f"{model_name} on {summary['dataset']} {summary['split']} ({summary['num_tokens']} {unit}s in "
            f"{summary['num_examples']} sequences): {summary['bits_per_token']:.4f} bits/{unit}, "
            f"{summary['nats_per_token']:.4f} nats/{unit}"
        )

    def write_artifacts(self, run_dir, recipe, num_samples=4, seed=0):
        """An audio model (one with a `sample_rate`): WAV files at its rate (one per class for a conditional model,
        and a continuation of the first evaluation recording's first 0.25 s), each `sample_seconds` long (recipe
        [train]; the continuation generates 3/4 of that), each with its spectrogram beside it (same name, .png).
        Any other: a file of `num_samples` text continuations of the default prompt."""
        from pathlib import Path

        from kgen import artifacts
        from kgen import data as kdata

        if not num_samples:
            return []
        run_dir, d = Path(run_dir), recipe["data"]
        if self.sample_rate is None:
            path = run_dir / "samples.txt"
            artifacts.write_text(self, path, num_samples=num_samples, seed=seed)
            return [("sample", path)]
        written = []
        labels = list(range(self.num_classes)) if self.conditional else [None] * num_samples
        seconds = recipe["train"]["sample_seconds"]
        for i, label in enumerate(labels):
            path = run_dir / "samples" / (f"label{label}.wav" if label is not None else f"sample{i}.wav")
            artifacts.write_audio(self, path, seconds=seconds, label=label, seed=seed + i)
            written += [("sample", path), ("spectrogram", artifacts.spectrogram_path(path))]
        waves, digits, _ = kdata.load_arrays(d["name"], split=f"{d['eval_split'].split('[')[0]}[:1]",
                                             **({"source": d["source"]} if d.get("source") else {}))
        path = run_dir / "samples" / "continuation.wav"
        artifacts.write_audio(self, path, seconds=0.75 * seconds, label=int(digits[0]) if self.conditional else None,
                              prompt=waves[0][: self.sample_rate // 4], seed=seed)
        written += [("sample", path), ("spectrogram", artifacts.spectrogram_path(path))]
        return written

    def write_sample_file(self, path, num=None, seed=0, label=None, seconds=1.0, prompt=None, rate=None,
                          text_prompt=None, length=600, sampler=None, progress=None, guidance=None, **unused):
        """`.wav`: `seconds` of audio at `rate` samples per second (None: the model's own `sample_rate`),
        continuing the WAV file `prompt` (of that rate) when given, and its spectrogram beside it (same name, .png),
        drawn with classifier-free `guidance` when given (`sample`);
        `.txt`: `num` text samples of `length` bytes continuing `text_prompt`."""
        from pathlib import Path

        from kgen import artifacts, audio

        out = Path(path)
        if out.suffix == ".wav":
            if rate is None and self.sample_rate is None:
                raise ValueError(
                    f"`--rate` is needed for a .wav file: this {type(self).__name__} records no sample rate (its "
                    "config's `sample_rate` is None: a text model, or one saved before kgen recorded the rate); give "
                    "the rate of the audio it was trained on.")
            rate = self.sample_rate if rate is None else check_int(rate, "rate", maximum=MAX_SAMPLE_RATE)
            wave = None
            if prompt is not None:
                if not Path(prompt).is_file():
                    raise FileNotFoundError(f"`--prompt` file {str(prompt)!r} does not exist (expected a WAV recording).")
                wave, _ = audio.read_wav(prompt, expected_rate=rate)
            codes = artifacts.write_audio(self, out, seconds=seconds, label=label, prompt=wave, rate=rate, seed=seed,
                                          progress=progress, guidance=guidance)
            given = 0 if wave is None else len(wave)
            return (f"wrote {len(codes) / rate:.2f} s of {rate} Hz audio ({given} prompt samples) to {out} and its "
                    f"spectrogram to {artifacts.spectrogram_path(out)}")
        if out.suffix != ".txt":
            raise ValueError(
                f"`--out` must end in .wav (audio models) or .txt (text models) for {type(self).__name__}, "
                f"got {str(out)!r}."
            )
        if prompt is not None:
            raise ValueError("`--prompt` is a WAV file for audio; give text prompts with `--text-prompt`.")
        if guidance is not None:
            raise ValueError("`--guidance` applies to class-conditional audio (.wav) samples; text models take no "
                             "class.")
        texts = artifacts.write_text(
            self, out, prompt=text_prompt or artifacts.TEXT_PROMPT, length=length, num_samples=num or 1,
            sampler=sampler or "top_k", seed=seed, batch_size=artifacts.SAMPLE_BATCH_SIZE, progress=progress,
        )
        return f"wrote {len(texts)} text sample(s) of {length} bytes to {out}"

    def export_signatures(self):
        """`serve`: `tokens` (batch, time) int32 [+ `labels`, `features`] -> `log_prob` (batch,), the sum over the
        sequence in nats; `sample`: `num_samples`, `length` int32 and `seed` int32 (2,) [+ conditioning] ->
        `tokens` drawn from the softmax with the cached generator (`kgen.samplers.sequence.export_sample`)."""
        import tensorflow as tf

        extra = []
        if self.conditional:
            extra.append(tf.TensorSpec(shape=(None,), dtype=tf.int32, name="labels"))
        if self.locally_conditioned:
            extra.append(tf.TensorSpec(shape=(None, None, self.local_channels), dtype=tf.float32, name="features"))
        names = [spec.name for spec in extra]

        def serve(tokens, *args):
            kwargs = dict(zip(names, args))
            logits = ops.cast(self(self.model_inputs(tokens, **kwargs), training=False), "float32")
            nll = ops.sparse_categorical_crossentropy(tokens, logits, from_logits=True)
            return {"log_prob": -ops.sum(nll, axis=1)}

        def sample(num_samples, length, seed, *args):
            from kgen.samplers.sequence import export_sample

            return {"tokens": export_sample(self, num_samples, length, seed, **dict(zip(names, args)))}

        serve_spec = [tf.TensorSpec(shape=(None, None), dtype=tf.int32, name="tokens")] + extra
        sample_spec = [
            tf.TensorSpec(shape=(), dtype=tf.int32, name="num_samples"),
            tf.TensorSpec(shape=(), dtype=tf.int32, name="length"),
            tf.TensorSpec(shape=(2,), dtype=tf.int32, name="seed"),
        ] + extra
        return [("serve", serve, serve_spec), ("sample", sample, sample_spec)]

    def serving_examples(self, x, labels=None, features=None):
        """`serve`: the tokens `x` [+ `labels`, `features`] give this model's `log_prob`; `sample`: 2 sequences of
        x's length with seed (3, 4) [+ labels 0, 1 and example features], seeded, valid int32 tokens (2, length)
        with a finite `log_prob`."""
        from kgen.models.kgen_model import ServingExample

        tokens = np.asarray(x, "int32")
        conditioning = {k: v for k, v in (("labels", labels), ("features", features)) if v is not None}
        serve_inputs = {"tokens": tokens}
        if labels is not None:
            serve_inputs["labels"] = np.asarray(labels, "int32")
        if features is not None:
            serve_inputs["features"] = np.asarray(features, "float32")
        expected = {"log_prob": self.log_prob(x, **conditioning)}
        length = tokens.shape[1]
        sample_conditioning = self.example_conditioning(np.zeros((2, length), "int32"))
        sample_inputs = {"num_samples": np.int32(2), "length": np.int32(length), "seed": np.array([3, 4], "int32"),
                         **sample_conditioning}

        def check(outputs):
            drawn = outputs["tokens"]
            if drawn.shape != (2, length) or drawn.dtype != np.int32:
                raise ValueError(f"`tokens` must be int32 (2, {length}), got {drawn.dtype} {drawn.shape}.")
            self.validate_tokens(drawn, "exported samples")
            if not np.all(np.isfinite(self.log_prob(drawn, **sample_conditioning))):
                raise ValueError("the exported samples have a non-finite log_prob.")

        return {"serve": ServingExample.outputs(serve_inputs, expected),
                "sample": ServingExample.seeded(sample_inputs, check, seed="seed", other_seed=(5, 6))}
