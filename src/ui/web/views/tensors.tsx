/** A safetensors checkpoint's header: its tensors (name, dtype, shape, size) and metadata. */
import type { SafetensorsPreview } from "../../api-types.ts";
import { formatSize } from "../format.ts";
import { printable } from "../../../printable.ts";

const LAYOUT_KEY = "opencrate.layout";

export function TensorsView({ preview }: { preview: SafetensorsPreview }) {
  const parameters = preview.tensors.reduce((sum, tensor) => sum + tensor.shape.reduce((product, size) => product * size, 1), 0);
  const metadata = Object.entries(preview.metadata).filter(([key]) => key !== LAYOUT_KEY);
  return (
    <div class="tensors">
      <div class="stats">
        <div>
          <b>{preview.tensors.length.toLocaleString()}</b> tensors
        </div>
        <div>
          <b>{parameters.toLocaleString()}</b> values
        </div>
        <div>
          <b>{formatSize(preview.headerBytes)}</b> header read of {formatSize(preview.size)}
        </div>
      </div>
      <table class="grid compact" data-testid="tensors">
        <thead>
          <tr>
            <th>Tensor</th>
            <th>Dtype</th>
            <th>Shape</th>
            <th class="num">Size</th>
          </tr>
        </thead>
        <tbody>
          {preview.tensors.map((tensor) => (
            <tr key={tensor.name}>
              <td class="mono">{printable(tensor.name)}</td>
              <td class="mono">{tensor.dtype}</td>
              <td class="mono">[{tensor.shape.join(", ")}]</td>
              <td class="num">{formatSize(tensor.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {metadata.length > 0 && (
        <>
          <h3>Metadata</h3>
          <table class="grid compact key-value">
            <tbody>
              {metadata.map(([key, value]) => (
                <tr key={key}>
                  <td class="mono">{key}</td>
                  <td class="mono wrap">{value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
