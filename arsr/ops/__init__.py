"""Image operations shared by models, data preparation and metrics."""
from arsr.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from arsr.ops.imresize import imresize, resize_weights
from arsr.ops.layout import channels_last_convs
from arsr.ops.warp import warp

__all__ = ["channels_last_convs", "imresize", "resize_weights", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "warp"]
