/// tools/convert_vgg16.py's output, read by TorchSharp itself (tests/references/video/make_references.py made it).
module Research.Model.Tests.Video.ConvertVgg16Tests

open System.Collections.Generic
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open Research.Model.Tests.ReferenceFiles

let private dtypeOf =
    function
    | "float32" -> torch.ScalarType.Float32
    | "float64" -> torch.ScalarType.Float64
    | "float16" -> torch.ScalarType.Float16
    | "bfloat16" -> torch.ScalarType.BFloat16
    | "int64" -> torch.ScalarType.Int64
    | "int32" -> torch.ScalarType.Int32
    | "int16" -> torch.ScalarType.Int16
    | "int8" -> torch.ScalarType.Int8
    | "uint8" -> torch.ScalarType.Byte
    | "bool" -> torch.ScalarType.Bool
    | other -> failwithf "dtype %s not in the test's table" other

let private isFloat (d: torch.ScalarType) =
    d = torch.ScalarType.Float32
    || d = torch.ScalarType.Float64
    || d = torch.ScalarType.Float16
    || d = torch.ScalarType.BFloat16

/// Values of a tensor of any rank (0 and empty included) as a flat array of the given type.
let private flat (t: torch.Tensor) (dtype: torch.ScalarType) (read: torch.Tensor -> 'T array) : 'T array =
    if t.numel () = 0L then
        [||]
    else
        read (t.reshape(-1L).to_type(dtype).contiguous())

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Video.ConvertVgg16"
        [
            test "every dtype, shape (rank 0, empty, non-ASCII key) reads back exactly through TorchSharp's loader" {
                use _ = torch.NewDisposeScope()
                use doc = JsonDocument.Parse(File.ReadAllText(reference "video" "dtypes.json"))

                let entries =
                    [
                        for p in doc.RootElement.EnumerateObject() ->
                            let shape =
                                [| for d in p.Value.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]

                            p.Name, dtypeOf (p.Value.GetProperty("dtype").GetString()), shape, p.Value.GetProperty("values")
                    ]

                Expect.equal entries.Length 13 "entries"

                let loaded =
                    loadTensors (reference "video" "dtypes.dat") [ for n, d, s, _ in entries -> n, d, s ]

                for name, dtype, shape, expected in entries do
                    let t = loaded[name]
                    Expect.equal t.dtype dtype $"{name} dtype"
                    Expect.equal t.shape shape $"{name} shape"

                    if isFloat dtype then
                        let actual = flat t torch.float64 (fun f -> f.data<float>().ToArray())
                        let wanted = [| for v in expected.EnumerateArray() -> v.GetDouble() |]
                        Expect.equal actual wanted $"{name} values"
                    else
                        let actual = flat t torch.int64 (fun f -> f.data<int64>().ToArray())
                        let wanted = [| for v in expected.EnumerateArray() -> v.GetInt64() |]
                        Expect.equal actual wanted $"{name} values"
            }

            test "TorchSharp's own save of the loaded tensors is byte-identical to the converter's file" {
                use _ = torch.NewDisposeScope()
                use dir = new TempDir()
                let path = dir.File "again.dat"

                use doc = JsonDocument.Parse(File.ReadAllText(reference "video" "dtypes.json"))

                let entries =
                    [
                        for p in doc.RootElement.EnumerateObject() ->
                            p.Name,
                            dtypeOf (p.Value.GetProperty("dtype").GetString()),
                            [| for d in p.Value.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]
                    ]

                let loaded = loadTensors (reference "video" "dtypes.dat") entries

                let ordered =
                    Dictionary<string, torch.Tensor>([ for n, _, _ in entries -> KeyValuePair(n, loaded[n]) ])

                do
                    use stream = File.Create path
                    use writer = new BinaryWriter(stream)
                    torch.nn.Module.save_state_dict (writer, ordered)

                Expect.equal (File.ReadAllBytes path) (File.ReadAllBytes(reference "video" "dtypes.dat")) "same bytes"
            }
        ]
