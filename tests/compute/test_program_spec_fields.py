"""Per-operation knowledge in the specs (issue 8): a pipeline's stage order and a contraction's
strip roles are spec fields that a view can read instead of keeping its own table."""

import pytest
from opscope import compute

PIPELINED = [s.name for s in compute.operations() if s.pipeline]
CONTRACTIONS = [s.name for s in compute.operations() if s.strip_roles]


def test_the_fields_are_filled_where_the_views_need_them():
    assert set(PIPELINED) == {"softmax", "layernorm", "rmsnorm", "batchnorm"}
    assert set(CONTRACTIONS) == {"matmul", "matvec", "linear", "dot"}


@pytest.mark.parametrize("name", PIPELINED)
def test_a_pipeline_is_the_order_its_stages_write_in(name):
    spec = compute.get_spec(name)
    tl = compute.stream_op(name, spec.example(), granularity="stage")
    first, *stages = spec.pipeline
    assert first in spec.input_names and stages[-1] == "result"
    writes = [tl.first_step_writing(n) for n in stages]
    assert None not in writes and writes == sorted(writes), dict(zip(stages, writes))


@pytest.mark.parametrize("name", CONTRACTIONS)
def test_strip_roles_are_the_contracted_inputs_in_order(name):
    spec = compute.get_spec(name)
    a, b = spec.strip_roles
    assert (a, b) == spec.input_names[:2]
    tl = compute.stream_op(name, spec.example(), granularity="element")
    regions = {r.tensor for r in tl[0].regions if r.kind == "read"}
    assert {a, b} <= regions


def test_register_refuses_names_that_are_not_its_tensors():
    import dataclasses

    from opscope.compute.registry import register

    bad = dataclasses.replace(compute.get_spec("softmax"), name="softmax_bad", pipeline=("X", "nope", "result"))
    with pytest.raises(ValueError, match="nope"):
        register(bad)
