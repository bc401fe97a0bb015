import { create, type DescFile, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** gRPC status codes used in reflection error responses. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * An index of the descriptors this server can describe: the files of the served
 * services and everything they import.
 */
export class DescriptorIndex {
  readonly serviceNames: string[];
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly messages = new Map<string, DescMessage>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(files: readonly DescFile[], serviceNames: readonly string[]) {
    this.serviceNames = [...serviceNames].sort();
    for (const file of files) this.addFile(file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(`${file.name}.proto`)) return;
    this.files.set(`${file.name}.proto`, file);
    for (const dep of file.dependencies) this.addFile(dep);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const e of file.enums) this.addEnum(e, file);
    for (const m of file.messages) this.addMessage(m, file);
    for (const ext of file.extensions) this.symbols.set(ext.typeName, file);
  }

  private addMessage(message: DescMessage, file: DescFile): void {
    this.symbols.set(message.typeName, file);
    this.messages.set(message.typeName, message);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(nested, file);
    for (const e of message.nestedEnums) this.addEnum(e, file);
    for (const ext of message.nestedExtensions) this.symbols.set(ext.typeName, file);
  }

  private addEnum(desc: DescFile["enums"][number], file: DescFile): void {
    this.symbols.set(desc.typeName, file);
    // Enum values live in the scope that encloses the enum.
    const scope = desc.typeName.slice(0, desc.typeName.lastIndexOf(".") + 1);
    for (const value of desc.values) this.symbols.set(scope + value.name, file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  hasMessage(typeName: string): boolean {
    return this.messages.has(typeName.replace(/^\./, ""));
  }

  /** The file and, after it, every file it imports transitively, serialized. */
  encodeWithDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(this.encode(f));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out;
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file.name, bytes);
    }
    return bytes;
  }
}

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

/** Answers one reflection request; shared by v1 and v1alpha, whose messages are identical. */
export function answer(index: DescriptorIndex, req: Request): Response["messageResponse"] {
  const notFound = (message: string) =>
    ({ case: "errorResponse", value: create(v1.ErrorResponseSchema, { errorCode: NOT_FOUND, errorMessage: message }) }) as const;
  const files = (file: DescFile) =>
    ({
      case: "fileDescriptorResponse",
      value: create(v1.FileDescriptorResponseSchema, { fileDescriptorProto: index.encodeWithDependencies(file) }),
    }) as const;
  const request = req.messageRequest;
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: create(v1.ListServiceResponseSchema, { service: index.serviceNames.map((name) => ({ name })) }),
      };
    case "fileByFilename": {
      const file = index.fileByName(request.value);
      return file ? files(file) : notFound(`file "${request.value}" not found`);
    }
    case "fileContainingSymbol": {
      const file = index.fileContainingSymbol(request.value);
      return file ? files(file) : notFound(`symbol "${request.value}" not found`);
    }
    case "fileContainingExtension":
      return notFound(`extension ${request.value.extensionNumber} of "${request.value.containingType}" not found`);
    case "allExtensionNumbersOfType":
      return index.hasMessage(request.value)
        ? {
            case: "allExtensionNumbersResponse",
            value: create(v1.ExtensionNumberResponseSchema, { baseTypeName: request.value, extensionNumber: [] }),
          }
        : notFound(`type "${request.value}" not found`);
    default:
      return {
        case: "errorResponse",
        value: create(v1.ErrorResponseSchema, { errorCode: INVALID_ARGUMENT, errorMessage: "empty reflection request" }),
      };
  }
}

function respond(index: DescriptorIndex, req: Request): Response {
  return create(v1.ServerReflectionResponseSchema, {
    validHost: req.host,
    originalRequest: req,
    messageResponse: answer(index, req),
  });
}

export function reflectionV1(index: DescriptorIndex): ServiceImpl<typeof v1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield respond(index, req);
    },
  };
}

/** v1alpha has the same wire format under another package: answer through v1 and re-decode. */
export function reflectionV1alpha(index: DescriptorIndex): ServiceImpl<typeof v1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const asV1 = fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, req));
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, respond(index, asV1)));
      }
    },
  };
}
