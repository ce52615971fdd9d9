package io.gaprune.model.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the weights of an exported (Hugging Face optimum / torch.onnx) encoder from its ONNX initializers
 * and gives them their Hugging Face parameter names.
 *
 * <p>The exporter keeps the names of tensors used as-is ({@code embeddings.word_embeddings.weight}, biases,
 * LayerNorm) but turns every linear weight into an anonymous {@code onnx::MatMul_NNN} initializer holding
 * {@code W^T} ({@code [in, out]}) for a MatMul node named after the module
 * ({@code /encoder/layer.0/attention/self/query/MatMul}). Those are renamed after that node and transposed
 * back to the HF layout {@code [out, in]}. Initializers that are not parameters (shape constants, int64
 * buffers) are skipped.
 */
public final class OnnxModelLoader {

  private static final int FLOAT = 1;
  private static final int FLOAT16 = 10;
  private static final int DOUBLE = 11;
  private static final int BFLOAT16 = 16;
  private static final int EXTERNAL = 1;

  private OnnxModelLoader() {}

  /**
   * A parameter read from the graph, in HF layout, as float32 host data: exact for the f32/f16/bf16
   * initializers exporters write (a float64 initializer would be rounded to float32). float32 rather than
   * float64 halves the transient heap of a load (the exports hold up to 33M weights).
   */
  public record HostTensor(String name, long[] shape, float[] values) {}

  /**
   * Parses an ONNX model and returns its parameters by HF name, in the graph's initializer order.
   *
   * @param source the file or resource name, for error messages
   * @throws IOException naming {@code source} when the stream is not a complete ONNX model or a tensor
   *     cannot be read
   */
  public static Map<String, HostTensor> readParameters(InputStream in, String source) throws IOException {
    OnnxProto.ModelProto model;
    try {
      var coded = CodedInputStream.newInstance(in);
      coded.setSizeLimit(Integer.MAX_VALUE);
      model = OnnxProto.ModelProto.parseFrom(coded);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException(source + ": not a valid ONNX model (truncated or corrupt protobuf: " + e.getMessage()
          + ")", e);
    }
    var graph = model.getGraph();
    if (graph.getInitializerCount() == 0) {
      throw new IOException(source + ": ONNX model has no initializers (not an exported encoder, or truncated)");
    }
    var matMulWeight = new HashMap<String, String>(); // initializer → HF weight name, for MatMul's B input
    for (var node : graph.getNodeList()) {
      if (node.getOpType().equals("MatMul") && node.getInputCount() == 2 && node.getName().endsWith("/MatMul")) {
        matMulWeight.put(node.getInput(1), moduleName(node.getName()) + ".weight");
      }
    }
    var out = new LinkedHashMap<String, HostTensor>();
    for (var t : graph.getInitializerList()) {
      String name;
      boolean transpose;
      if (matMulWeight.containsKey(t.getName())) {
        name = matMulWeight.get(t.getName());
        transpose = true;
      } else if (isParameterName(t.getName())) {
        name = stripBert(t.getName());
        transpose = false;
      } else {
        continue;
      }
      if (!isFloating(t.getDataType())) {
        continue; // e.g. embeddings.position_ids (int64), a buffer
      }
      var host = toHost(t, source);
      if (transpose) {
        if (host.shape.length != 2) {
          throw new IOException(source + ": MatMul weight " + t.getName() + " (" + name + ") is not 2-D: "
              + Arrays.toString(host.shape));
        }
        host = transpose(host, name);
      } else {
        host = new HostTensor(name, host.shape, host.values);
      }
      if (out.put(name, host) != null) {
        throw new IOException(source + ": two initializers map to parameter " + name);
      }
    }
    return out;
  }

  /** Converts host tensors to NDArrays of {@code dtype} (FLOAT32 or FLOAT64, widened exactly) in {@code manager}. */
  public static Map<String, NDArray> toNDArrays(Map<String, HostTensor> tensors, NDManager manager, DataType dtype) {
    var out = new LinkedHashMap<String, NDArray>();
    for (var t : tensors.values()) {
      var shape = new Shape(t.shape);
      NDArray a;
      if (dtype == DataType.FLOAT64) {
        var d = new double[t.values.length];
        for (int i = 0; i < d.length; i++) {
          d[i] = t.values[i]; // exact widening
        }
        a = manager.create(DoubleBuffer.wrap(d), shape);
      } else if (dtype == DataType.FLOAT32) {
        a = manager.create(FloatBuffer.wrap(t.values), shape);
      } else {
        throw new IllegalArgumentException("parameters load as FLOAT32 or FLOAT64, not " + dtype);
      }
      a.setName(t.name);
      out.put(t.name, a);
    }
    return out;
  }

  /** {@code /encoder/layer.0/attention/self/query/MatMul} → {@code encoder.layer.0.attention.self.query}. */
  static String moduleName(String nodeName) {
    var path = nodeName.startsWith("/") ? nodeName.substring(1) : nodeName;
    path = path.substring(0, path.lastIndexOf('/'));
    return stripBert(path.replace('/', '.'));
  }

  private static String stripBert(String name) {
    return name.startsWith("bert.") ? name.substring(5) : name;
  }

  private static boolean isParameterName(String name) {
    var n = stripBert(name);
    return n.startsWith("embeddings.") || n.startsWith("encoder.") || n.startsWith("pooler.");
  }

  private static boolean isFloating(int dataType) {
    return dataType == FLOAT || dataType == DOUBLE || dataType == FLOAT16 || dataType == BFLOAT16;
  }

  private static HostTensor toHost(OnnxProto.TensorProto t, String source) throws IOException {
    if (t.getDataLocation() == EXTERNAL) {
      throw new IOException(source + ": initializer " + t.getName()
          + " is stored as external data, which this loader does not read");
    }
    var shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    var values = new float[Math.toIntExact(n)];
    var raw = t.getRawData();
    int width = switch (t.getDataType()) {
      case FLOAT -> 4;
      case DOUBLE -> 8;
      default -> 2;
    };
    if (!raw.isEmpty()) {
      if (raw.size() != (long) width * n) {
        throw new IOException(source + ": initializer " + t.getName() + " " + Arrays.toString(shape) + " has "
            + raw.size() + " bytes of data, expected " + width * n);
      }
      var buf = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      fill(values, buf, t.getDataType());
    } else if (t.getDataType() == FLOAT && t.getFloatDataCount() == n) {
      for (int i = 0; i < n; i++) {
        values[i] = t.getFloatData(i);
      }
    } else if (t.getDataType() == DOUBLE && t.getDoubleDataCount() == n) {
      for (int i = 0; i < n; i++) {
        values[i] = (float) t.getDoubleData(i);
      }
    } else {
      throw new IOException(source + ": initializer " + t.getName() + " " + Arrays.toString(shape)
          + " has no data of the expected size " + n + " (truncated or unsupported storage)");
    }
    return new HostTensor(t.getName(), shape, values);
  }

  private static void fill(float[] values, ByteBuffer buf, int dataType) {
    for (int i = 0; i < values.length; i++) {
      values[i] = switch (dataType) {
        case FLOAT -> buf.getFloat();
        case DOUBLE -> (float) buf.getDouble();
        case FLOAT16 -> halfToFloat(buf.getShort());
        default -> Float.intBitsToFloat((buf.getShort() & 0xffff) << 16); // bfloat16: the high half of an f32
      };
    }
  }

  /** IEEE 754 binary16 → float (Java 17 has no Float.float16ToFloat). */
  static float halfToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf / NaN
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f; // subnormal (or zero)
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  private static HostTensor transpose(HostTensor t, String name) {
    int rows = (int) t.shape[0];
    int cols = (int) t.shape[1];
    var out = new float[t.values.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out[c * rows + r] = t.values[r * cols + c];
      }
    }
    return new HostTensor(name, new long[] {cols, rows}, out);
  }
}
