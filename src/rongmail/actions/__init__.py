"""The only write path (DESIGN rule 3): ``do_<verb>_<noun>(ctx, ...)``.

Each action validates its input, runs one write operation (data and change rows in one
transaction), then publishes the committed changes on the bus.
"""
