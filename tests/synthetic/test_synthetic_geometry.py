"""The polygon primitives every region box and lesion is built from."""

from __future__ import annotations

import math

import numpy as np

from cxralign.synthetic.geometry import Box, Pose, clip_halfplane, clip_rect, contains, rectangle


def area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def test_clipping_a_concave_polygon_keeps_exactly_the_inside() -> None:
    # An "L": the 2x2 square without its upper-right 1x1 quadrant (area 3).
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)
    assert math.isclose(area(clip_rect(ell, x2=1.5)), 2.5)
    assert math.isclose(area(clip_rect(ell, y1=0.5, y2=1.5)), 1.5)
    assert math.isclose(area(clip_halfplane(ell, (1.0, 1.0), 1.0)), 0.5)  # x + y <= 1
    assert len(clip_rect(ell, x1=3.0)) == 0


def test_point_in_polygon() -> None:
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)
    inside = contains(ell, np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [3.0, 0.5]]))
    assert inside.tolist() == [True, True, True, False, False]


def test_pose_maps_the_body_frame_and_clips_boxes_to_the_image() -> None:
    pose = Pose(rows=100, cols=80, center_x=40, top=10, half_width=30, height=60, angle=0.0,
                pixel_spacing=0.5)
    assert pose.to_pixels(np.array([[-1.0, 0.0], [1.0, 1.0]])).tolist() == [[10, 10], [70, 70]]
    assert pose.box(rectangle(-2.0, -1.0, 0.0, 0.5)) == Box(0.0, 0.0, 40.0, 40.0)
    turned = Pose(rows=100, cols=80, center_x=40, top=10, half_width=30, height=60, angle=0.1,
                  pixel_spacing=0.5)
    assert turned.to_pixels(np.array([[0.0, 0.0]]))[0, 0] > 40  # clockwise on screen (y down)
