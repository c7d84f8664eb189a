"""The pictures the hub offers for a model: listed, served as thumbnails by the gateway, one chosen as preview."""
