"""Input at the edge: raw messages decoded and validated, dead-letter records, key-to-partition routing.

No Faust: this layer is what any consumer of the input topics would need.
"""
