"""From frames to results without Qt: image reading, cropping, model runners."""
