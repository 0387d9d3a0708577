"""The part of a trained model that segments, i.e. what is evaluated and deployed."""


def segmentation_network(model):
    """`model` as a segmentation network: images (B, H, W, 3) -> logits (B, H, W, C).

    An `AdversarialSegmenter` (Seg-GAN, SS-GAN) gives its generator; a `RelationNet`
    built with `training_heads=True` gives `without_training_heads()` (same weights, the
    similarity subnet dropped); any other model is returned as it is.
    """
    from kseg.models.gan.adversarial import AdversarialSegmenter
    from kseg.models.relationnet import RelationNet

    if isinstance(model, AdversarialSegmenter):
        return model.generator
    if isinstance(model, RelationNet) and model.training_heads:
        return model.without_training_heads()
    return model
