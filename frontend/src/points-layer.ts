// The cloud's bulk layer: deck.gl's ScatterplotLayer with each point drawn as one GL point
// (a "point-list" of sprites, the circle cut in the fragment shader), one vertex per point,
// not an instanced quad. Same props, picking and highlighting, in 2D and 3D. Measured in
// Chromium's software WebGL (benchmarks/bench_renderer.py), instancing made 200,000 points
// about 10x slower. The small marker layers on top keep the ScatterplotLayer: they need
// outlines, which sprites don't draw.

import { ScatterplotLayer } from "@deck.gl/layers";
import { Model } from "@luma.gl/engine";

/** ScatterplotLayer's per-instance attributes; the sprites use the first three, per vertex */
const PER_POINT = [
  "instancePositions",
  "instanceRadius",
  "instanceFillColors",
  "instanceLineColors",
  "instanceLineWidths",
  "instancePixelOffset",
];

const vs = /* glsl */ `\
#version 300 es
#define SHADER_NAME points-layer-vertex-shader
in vec3 instancePositions;
in float instanceRadius;
in vec4 instanceFillColors;
out vec4 vFillColor;
void main(void) {
  geometry.worldPosition = instancePositions;
  float radiusPixels = clamp(
    project_size_to_pixel(scatterplot.radiusScale * instanceRadius, scatterplot.radiusUnits),
    scatterplot.radiusMinPixels, scatterplot.radiusMaxPixels
  );
  geometry.uv = vec2(0.0);
  // a vertex per point: the vertex's number is the point's
  geometry.pickingColor = picking_getPickingColorFromIndex(float(gl_VertexID));
  // projected coordinates need no 64-bit precision: no low part is uploaded or read
  gl_Position = project_position_to_clipspace(
    instancePositions, vec3(0.0), vec3(0.0), geometry.position
  );
  DECKGL_FILTER_GL_POSITION(gl_Position, geometry);
  // gl_PointSize counts device pixels; the radius is in CSS pixels
  gl_PointSize = 2.0 * radiusPixels * project.devicePixelRatio;
  vFillColor = vec4(instanceFillColors.rgb, instanceFillColors.a * layer.opacity);
  DECKGL_FILTER_COLOR(vFillColor, geometry);
}
`;

const fs = /* glsl */ `\
#version 300 es
#define SHADER_NAME points-layer-fragment-shader
precision highp float;
in vec4 vFillColor;
out vec4 fragColor;
void main(void) {
  vec2 unit = gl_PointCoord * 2.0 - 1.0;
  geometry.uv = unit;
  if (dot(unit, unit) > 1.0) {
    discard;
  }
  fragColor = vFillColor;
  DECKGL_FILTER_COLOR(fragColor, geometry);
}
`;

export class PointsLayer<DataT = unknown> extends ScatterplotLayer<DataT> {
  static override layerName = "PointsLayer";

  override getShaders() {
    return { ...super.getShaders(), vs, fs };
  }

  override initializeState(): void {
    super.initializeState();
    // the same attributes, stepped per vertex instead of per instance
    const attributes = this.getAttributeManager()!;
    attributes.remove([...PER_POINT]);
    attributes.add({
      instancePositions: { size: 3, type: "float32", accessor: "getPosition" },
      instanceRadius: { size: 1, accessor: "getRadius", defaultValue: 1 },
      instanceFillColors: {
        size: this.props.colorFormat.length,
        type: "unorm8",
        accessor: "getFillColor",
        defaultValue: [0, 0, 0, 255],
      },
    });
  }

  override draw(options: { uniforms: unknown }): void {
    this.state.model?.setVertexCount(this.getNumInstances());
    super.draw(options);
  }

  protected override _getModel(): Model {
    return new Model(this.context.device, {
      ...this.getShaders(),
      id: this.props.id,
      bufferLayout: this.getAttributeManager()!.getBufferLayouts(),
      topology: "point-list",
      vertexCount: 0,
      isInstanced: false,
    });
  }
}
