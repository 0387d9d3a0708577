"""Every kseg input pipeline runs without tf.data's autotuning model, whose thread made the
end of every `model.fit` wait up to a minute on one CPU (`kseg.data.pipeline_options`;
measured by benchmarks/iterator_release.py). The records pipelines are checked in
tests/data/test_records_pipeline.py."""

import tensorflow as tf

import kseg.data as kd
from kseg.data.pipeline_options import without_autotune_model
from kseg.data.service import distribute, start_dispatcher


def test_without_autotune_model_turns_the_model_off_for_what_is_built_on_it():
    ds = without_autotune_model(tf.data.Dataset.range(4).map(lambda x: x + 1, num_parallel_calls=tf.data.AUTOTUNE))
    assert ds.options().autotune.enabled is False
    assert ds.batch(2).prefetch(tf.data.AUTOTUNE).options().autotune.enabled is False
    assert list(ds.as_numpy_iterator()) == [1, 2, 3, 4]


def test_file_pair_training_and_evaluation_streams_run_without_it(data_root):
    pairs = kd.voc_pairs(data_root, "train")[:4]
    training = kd.segmentation_dataset(pairs, 5, True, batch_size=2, crop_size=(32, 32), seed=0, repeat=True)
    evaluation = kd.segmentation_dataset(pairs, 5, False)
    assert training.options().autotune.enabled is False and evaluation.options().autotune.enabled is False
    images, masks = next(iter(training))
    assert images.shape == (2, 32, 32, 3) and masks.shape == (2, 32, 32)


def test_the_stream_read_from_a_tf_data_service_runs_without_it(data_root):
    pairs = kd.voc_pairs(data_root, "train")[:4]
    stream = kd.segmentation_dataset(pairs, 5, True, batch_size=2, crop_size=(32, 32), seed=0, repeat=True, shard_hint=True)
    dispatcher = start_dispatcher(0, ["localhost:1"])  # the dataset is registered, never read: no worker runs
    assert distribute(stream, dispatcher.target).options().autotune.enabled is False
