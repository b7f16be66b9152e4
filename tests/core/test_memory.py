"""The memory a network needs, the memory this computer has free, and the refusals before
anything is allocated."""
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from netbuilder.core import memory
from netbuilder.core.analysis import analyze
from netbuilder.core.compile import CompileError, NotEnoughMemory, compile_graph
from netbuilder.core.graph import Graph
from netbuilder.core.project import load_template
from netbuilder.core.settings import TrainingSettings
from netbuilder.core.summary import memory_text, summary_text

from netbuilder.common.text import byte_size
from test_random_graphs import graphs

GB = 2**30


def terabyte_dense() -> Graph:
    """Dense 1,000,000 -> 1,000,000: 4 TB of weights, a valid graph."""
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(1_000_000,)), graph.add("dense", units=1_000_000),
                graph.add("dense", units=10), graph.add("output"))
    return graph


def many_wide_layers(layers: int = 40) -> Graph:
    """Forty Dense 4096 layers: each layer's batch of 65,536 takes 1 GB, all of them together 60 GB."""
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(784,)),
                *[graph.add("dense", units=4096) for _ in range(layers)], graph.add("dense", units=10),
                graph.add("output"))
    return graph


# --- the estimate --------------------------------------------------------------------------------
def test_the_optimiser_keeps_two_values_a_weight_for_adam_one_for_sgd_with_momentum_and_rmsprop_one_in_its_step():
    graph = load_template("1-mlp").graph
    analysis = analyze(graph)
    weights = analysis.total_params * 4
    assert memory.weight_bytes(analysis) == weights == 101_770 * 4

    def estimate(**changes):
        return memory.training_memory(graph, analysis, TrainingSettings(**changes))

    adam = estimate(optimizer="adam")
    assert (adam.weights, adam.best_copy, adam.gradients, adam.optimizer) == (weights, weights, weights, 3 * weights)
    assert estimate(optimizer="adamw").optimizer == 3 * weights
    assert estimate(optimizer="sgd", momentum=0.9).optimizer == 2 * weights
    assert estimate(optimizer="sgd", momentum=0.0).optimizer == weights
    assert estimate(optimizer="rmsprop").optimizer == 2 * weights


def test_the_built_in_datasets_count_and_the_users_own_data_is_unknown_until_loaded():
    graph = load_template("1-mlp").graph  # 784 values a sample
    analysis = analyze(graph)
    settings = TrainingSettings()
    assert memory.builtin_samples(" MNIST ") == 70_000
    digits = memory.training_memory(graph, analysis, settings, memory.builtin_samples("digits"))
    assert digits.data == 190_000 * (784 * 4 + 8)  # three epochs of 60,000 new digits, and 10,000 to validate
    own = memory.training_memory(graph, analysis, settings, memory.builtin_samples("/home/me/flowers.csv"))
    assert own.data is None and "data not counted until loaded" in own.describe()
    assert digits.total - own.total == digits.data


def test_the_built_in_digits_count_as_streamed_where_their_loader_will_stream_them():
    """190,000 digits take 570 MB as floats: with 800 MB free the loader streams them (more than a
    quarter of what is free), so the Summary must not call the CNN too big for this computer."""
    graph = load_template("2-cnn").graph
    analysis = analyze(graph)
    settings = TrainingSettings()
    digits = memory.builtin_samples("digits")
    assert not memory.will_stream(graph, analysis, digits, 4 * 1024**3)
    assert memory.will_stream(graph, analysis, digits, 800 * 1024**2)
    assert memory.training_memory(graph, analysis, settings, digits).total > 800 * 1024**2
    assert memory.training_problem(graph, analysis, settings, 800 * 1024**2, digits) is None
    text, fits = memory_text(graph, analysis, settings, "digits", 800 * 1024**2)
    assert fits and " streamed" in text
    text, fits = memory_text(graph, analysis, settings, "digits", 4 * 1024**3)
    assert fits and " streamed" not in text


def test_a_streamed_dataset_counts_its_labels_and_the_batches_being_built_not_its_samples():
    graph = load_template("7-cifar-cnn").graph  # 3×32×32 values a sample
    analysis = analyze(graph)
    settings = TrainingSettings(batch_size=128)
    sample = 3 * 32 * 32 * 4
    in_memory = memory.training_memory(graph, analysis, settings, 1_000_000)
    streamed = memory.training_memory(graph, analysis, settings, 1_000_000, streamed=True)
    assert in_memory.data == 1_000_000 * (sample + 8)
    assert streamed.data == 1_000_000 * 8 + (128 + 512) * sample * 9 // 4  # a batch and a validation chunk
    assert "data 24.5 MB streamed" in streamed.describe()
    # 12 GB of images in memory do not fit in 4 GB; streamed they do, and a built-in dataset that
    # large is streamed by its loader, so before loading it counts as streamed
    free = 4 * 1024**3
    assert memory.training_memory(graph, analysis, settings, 1_000_000).total > free
    assert memory.will_stream(graph, analysis, 1_000_000, free)
    assert memory.training_problem(graph, analysis, settings, free, 1_000_000) is None
    assert memory.training_problem(graph, analysis, settings, free, 1_000_000, streamed=True) is None
    # once loaded, a streamed dataset's batches are still to come: they count in what must fit
    assert memory.training_problem(graph, analysis, settings, streamed.total - streamed.weights - 1, 1_000_000,
                                   loaded=True, streamed=True) is not None


def test_activations_grow_with_the_batch_and_recurrent_layers_count_their_steps():
    graph = Graph()
    graph.chain(graph.add("input", kind="sequence", shape=(100, 8)), graph.add("lstm", hidden_size=64),
                graph.add("dense", units=2), graph.add("output"))
    analysis = analyze(graph)
    small, large = (memory.training_memory(graph, analysis, TrainingSettings(batch_size=b)) for b in (1024, 4096))
    assert large.activations == pytest.approx(4 * small.activations, rel=0.01)
    # every one of the 100 steps keeps the LSTM's 4 gates and 2 states of 64 values, per sample
    assert small.activations > 1024 * 100 * (4 + 2) * 64 * 4


@given(batch=st.integers(1, 65536), more=st.integers(1, 65536),
       units=st.integers(1, 10**6), features=st.integers(1, 10**6))
@hypothesis_settings(max_examples=60, deadline=None)
def test_the_estimate_never_shrinks_as_the_batch_grows_and_is_never_negative(batch, more, units, features):
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(features,)), graph.add("dense", units=units),
                graph.add("relu"), graph.add("dense", units=3), graph.add("output"))
    analysis = analyze(graph)
    smaller = memory.training_memory(graph, analysis, TrainingSettings(batch_size=batch), 70_000)
    larger = memory.training_memory(graph, analysis, TrainingSettings(batch_size=min(65536, batch + more)), 70_000)
    assert 0 < smaller.total <= larger.total
    assert min(smaller.weights, smaller.gradients, smaller.optimizer, smaller.activations, smaller.data) >= 0
    assert memory.inference_bytes(analysis, 1) <= memory.inference_bytes(analysis, batch)
    assert f"at batch {batch:,}" in smaller.describe()


@given(graphs(), st.integers(1, 4096))
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_for_any_network_the_weights_are_what_torch_allocates_and_the_estimate_grows_with_the_batch(graph, batch):
    analysis = analyze(graph)
    if not analysis.ok:
        return
    model = compile_graph(graph, analysis)
    assert memory.weight_bytes(analysis) == sum(p.numel() * p.element_size() for p in model.parameters())
    smaller = memory.training_memory(graph, analysis, TrainingSettings(batch_size=batch))
    larger = memory.training_memory(graph, analysis, TrainingSettings(batch_size=batch * 2))
    assert 0 < smaller.total <= larger.total
    assert smaller.activations > 0 and memory.inference_bytes(analysis, batch) >= memory.weight_bytes(analysis)


@given(st.integers(0, 10**400))
def test_any_size_prints_without_overflow(size):
    text = byte_size(size)
    assert text.split()[-1] in ("bytes", "KB", "MB", "GB", "TB", "PB")
    assert len(text) < 450


@given(st.integers(1024, 2**50 - 1))
def test_sizes_round_as_format_does_for_sizes_a_float_holds_exactly(size):
    unit, scale = next((unit, 1024**power) for power, unit in ((4, "TB"), (3, "GB"), (2, "MB"), (1, "KB"))
                       if size >= 1024**power)
    assert byte_size(size) == f"{size / scale:.1f} {unit}"


def test_sizes_print_like_a_system_monitor():
    assert [byte_size(size) for size in (0, 1023, 1024, 1_677_722, 3 * GB, 4 * 10**12)] == \
        ["0 bytes", "1023 bytes", "1.0 KB", "1.6 MB", "3.0 GB", "3.6 TB"]


# --- refusals --------------------------------------------------------------------------------------
def test_compiling_a_network_whose_weights_need_terabytes_is_refused_before_allocating():
    with pytest.raises(NotEnoughMemory) as refusal:
        compile_graph(terabyte_dense())
    message = str(refusal.value)
    assert "needs about 3.6 TB for its weights" in message and "free" in message
    assert "lower the layer sizes" in message
    assert isinstance(refusal.value, CompileError)  # every caller that reports CompileError reports this


def test_the_compile_guard_compares_with_the_memory_free(monkeypatch):
    graph = load_template("1-mlp").graph  # 407,080 bytes of weights
    monkeypatch.setattr(memory, "available_memory", lambda: 400_000)
    with pytest.raises(NotEnoughMemory, match="397.5 KB for its weights .*has 390.6 KB free"):
        compile_graph(graph)
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # unknown: never refused
    assert compile_graph(graph) is not None


def test_a_run_whose_layers_each_fit_but_not_together_is_refused():
    graph, settings = many_wide_layers(), TrainingSettings(batch_size=65536)
    analysis = analyze(graph)
    available = 16 * GB
    assert all(memory.activation_bytes(info, settings.batch_size) <= GB for info in analysis.info.values())
    assert memory.weight_bytes(analysis) < available
    problem = memory.training_problem(graph, analysis, settings, available)
    assert problem is not None
    assert problem.message.startswith("Training needs about ")
    assert "at batch 65,536" in problem.message and "this computer has 16.0 GB free" in problem.message
    assert problem.remedy == "lower the batch size or the layer sizes"
    smaller = settings.replace(batch_size=1024)
    assert memory.training_problem(graph, analysis, smaller, available) is None
    assert memory.training_problem(graph, analysis, settings, None) is None  # unknown: never refused


def test_processes_sharing_a_computer_each_hold_a_model_and_a_share_of_the_batch():
    graph = load_template("2-cnn").graph
    analysis = analyze(graph)
    alone = memory.training_memory(graph, analysis, TrainingSettings(batch_size=256))
    four = memory.training_memory(graph, analysis, TrainingSettings(batch_size=256), processes=4)
    assert four.weights == 4 * alone.weights
    assert four.activations == 4 * memory.training_memory(graph, analysis, TrainingSettings(batch_size=64)).activations


def test_summary_prints_the_estimate_and_says_when_it_does_not_fit():
    graph = terabyte_dense()
    analysis = analyze(graph)
    text = summary_text(graph, analysis, training=TrainingSettings(), dataset="digits")
    assert "Total params: 1,000,011,000,010" in text
    assert "Training memory: about " in text and "at batch 64 (weights 3.6 TB + best copy 3.6 TB" in text
    assert "Prediction memory: about 3.6 TB for one sample" in text
    line, fits = memory_text(graph, analysis, TrainingSettings(), "digits", 8 * GB)
    assert not fits and line.endswith("this computer has 8.0 GB free, too little: lower the batch size or the "
                                      "layer sizes")
    line, fits = memory_text(graph, analysis, TrainingSettings(device="cuda"), "digits", 8 * GB)
    assert fits and "free" not in line  # a GPU's memory is checked when the run starts


# --- memory available -------------------------------------------------------------------------------
MEMINFO = "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n"


def write(folder, files: dict[str, str]):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_available_memory_is_memavailable_without_a_container_limit(tmp_path):
    write(tmp_path, {"meminfo": MEMINFO, "cgroup/memory.max": "max\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") == 12_000_000 * 1024


def test_a_lower_cgroup_v2_limit_wins_and_reclaimable_file_cache_counts_as_free(tmp_path):
    write(tmp_path, {"meminfo": MEMINFO, "cgroup/memory.max": f"{4 * GB}\n", "cgroup/memory.current": f"{3 * GB}\n",
                     "cgroup/memory.stat": f"anon {2 * GB}\ninactive_file {GB}\nactive_file 0\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") == 2 * GB


def test_a_cgroup_v1_limit_counts_and_its_no_limit_value_is_ignored(tmp_path):
    write(tmp_path, {"meminfo": MEMINFO, "v1/memory/memory.limit_in_bytes": f"{2 * GB}\n",
                     "v1/memory/memory.usage_in_bytes": f"{GB}\n", "v1/memory/memory.stat": "total_inactive_file 0\n",
                     "unlimited/memory/memory.limit_in_bytes": "9223372036854771712\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "v1", tmp_path / "self") == GB
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "unlimited", tmp_path / "self") == 12_000_000 * 1024


def test_the_limit_of_the_processs_own_group_or_a_group_above_it_counts(tmp_path):
    """As on a host where the process runs in a nested group: a systemd slice, a job's group."""
    write(tmp_path, {"meminfo": MEMINFO,
                     "self": "12:memory,hugetlb:/jobs/job7\n4:cpu:/elsewhere\n0::/user.slice/app.scope\n",
                     "cgroup/user.slice/memory.max": f"{3 * GB}\n", "cgroup/user.slice/memory.current": f"{GB}\n",
                     "cgroup/user.slice/app.scope/memory.max": "max\n",
                     "cgroup/memory/jobs/job7/memory.limit_in_bytes": f"{8 * GB}\n",
                     "cgroup/memory/jobs/job7/memory.usage_in_bytes": f"{GB}\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") == 2 * GB
    (tmp_path / "cgroup/user.slice/memory.max").write_text("max\n")
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") == 7 * GB


def test_a_limit_already_used_up_leaves_nothing_free(tmp_path):
    write(tmp_path, {"meminfo": MEMINFO, "cgroup/memory.max": f"{GB}\n", "cgroup/memory.current": f"{2 * GB}\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") == 0


@pytest.mark.parametrize("meminfo", ["", "MemTotal: 1000 kB\n", "MemAvailable: lots\n", "\x00\xff garbage"])
def test_unreadable_memory_figures_mean_unknown_never_a_crash(tmp_path, meminfo, monkeypatch):
    write(tmp_path, {"meminfo": meminfo, "cgroup/memory.max": "not a number\n"})
    assert memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self") is None


@given(st.text(max_size=200), st.text(max_size=40), st.text(max_size=200))
@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_contents_of_the_memory_files_give_a_size_or_unknown(tmp_path, meminfo, limit, groups):
    write(tmp_path, {"meminfo": meminfo, "cgroup/memory.max": limit, "cgroup/memory.current": limit, "self": groups})
    free = memory.available_memory(tmp_path / "meminfo", tmp_path / "cgroup", tmp_path / "self")
    assert free is None or free >= 0


def test_without_proc_meminfo_the_platform_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "_platform_available", lambda: 5 * GB)
    assert memory.available_memory(tmp_path / "missing", tmp_path / "no-cgroup", tmp_path / "self") == 5 * GB


def test_this_computer_reports_some_memory_free():
    free = memory.available_memory()
    assert free is None or free > 0
