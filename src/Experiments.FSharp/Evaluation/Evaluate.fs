/// The evaluation protocol from the command line: read a dev and a test CSV of labels and scores, tune the
/// thresholds on dev (for WA and F1 separately), print the test metrics as one JSON object.
module Research.Experiments.Evaluate

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json.Nodes
open Research.Experiments.Metrics

/// The columns a CSV must have.
let columns =
    Array.concat [ [| "id" |]; emotions; emotions |> Array.map (fun e -> e + "_score") ]

/// The fields of one CSV line: commas separate; a field in double quotes may hold commas, and "" stands for a quote.
let private fields (where: string) (line: string) : string[] =
    let out = ResizeArray<string>()
    let field = StringBuilder()
    let mutable i = 0
    let mutable quoted = false

    while i < line.Length do
        let c = line[i]

        if quoted then
            if c = '"' && i + 1 < line.Length && line[i + 1] = '"' then
                field.Append '"' |> ignore
                i <- i + 1
            elif c = '"' then
                quoted <- false
            else
                field.Append c |> ignore
        elif c = '"' && field.Length = 0 then
            quoted <- true
        elif c = ',' then
            out.Add(field.ToString())
            field.Clear() |> ignore
        else
            field.Append c |> ignore

        i <- i + 1

    if quoted then
        raise (InvalidDataException $"{where}: unterminated quoted field")

    out.Add(field.ToString())
    out.ToArray()

let private number (where: string) (column: string) (text: string) =
    match Double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, v when Double.IsFinite v -> v
    | true, v -> raise (InvalidDataException $"{where}: column '{column}' is {v}; expected a finite number")
    | _ -> raise (InvalidDataException $"{where}: column '{column}' is '{text}'; expected a number")

/// Reads a split from a CSV file (header: id, the six emotions, their `_score` columns; scripts/evaluate.fsx -- --help): its item ids and the split, named by the path. Errors name the file
/// and line: a missing or repeated column, a row with another number of fields than the header, an empty or repeated
/// id, a label that is not a number ≥ 0, a score that is not a finite number, no rows.
let readSplit (path: string) : string[] * Split =
    if not (File.Exists path) then
        raise (FileNotFoundException($"no such file: {path}", path))

    let lines =
        File.ReadLines path
        |> Seq.mapi (fun i line -> i + 1, line)
        |> Seq.filter (fun (_, line) -> line.Trim() <> "")
        |> Array.ofSeq

    if lines.Length = 0 then
        raise (InvalidDataException $"{path}: empty file; expected a header: {String.Join(',', columns)}")

    let headerLine, headerText = lines[0]

    let header =
        fields $"{path}:{headerLine}" headerText |> Array.map (fun h -> h.Trim())

    match header |> Array.countBy id |> Array.filter (fun (_, n) -> n > 1) with
    | [||] -> ()
    | repeated ->
        let names = repeated |> Array.map fst
        raise (InvalidDataException $"""{path}:{headerLine}: repeated column(s) {String.Join(", ", names)}""")

    match columns |> Array.filter (fun c -> not (Array.contains c header)) with
    | [||] -> ()
    | missing ->
        raise (
            InvalidDataException
                $"""{path}:{headerLine}: missing column(s) {String.Join(", ", missing)}; the header needs {String.Join(",", columns)}"""
        )

    let at name = Array.IndexOf(header, name)
    let idColumn = at "id"
    let labelColumns = emotions |> Array.map at
    let scoreColumns = emotions |> Array.map (fun e -> at (e + "_score"))
    let rows = lines[1..]

    if rows.Length = 0 then
        raise (InvalidDataException $"{path}: a header but no rows")

    let seen = Collections.Generic.Dictionary<string, int>()

    let parsed =
        rows
        |> Array.map (fun (lineNo, text) ->
            let where = $"{path}:{lineNo}"
            let f = fields where text

            if f.Length <> header.Length then
                raise (InvalidDataException $"{where}: {f.Length} fields but the header has {header.Length}")

            let id = f[idColumn].Trim()

            if id = "" then
                raise (InvalidDataException $"{where}: empty id")

            match seen.TryGetValue id with
            | true, first -> raise (InvalidDataException $"{where}: id '{id}' repeats line {first}")
            | _ -> seen[id] <- lineNo

            let labels =
                labelColumns
                |> Array.map (fun c ->
                    let v = number where header[c] f[c]

                    if v < 0.0 then
                        raise (InvalidDataException $"{where}: column '{header[c]}' is {v}; labels are 0/1 or intensities ≥ 0")

                    v > 0.0)

            let scores = scoreColumns |> Array.map (fun c -> number where header[c] f[c])
            id, labels, scores)

    let ids = parsed |> Array.map (fun (id, _, _) -> id)

    ids,
    {
        Name = path
        Labels = parsed |> Array.map (fun (_, l, _) -> l)
        Scores = parsed |> Array.map (fun (_, _, s) -> s)
    }

/// Stderr warnings a reader should see: emotions with one class only in a split, ids in both splits.
let warnings (devIds: string[], dev: Split) (testIds: string[], test: Split) : string list =
    let oneClass (split: Split) =
        [
            for e in 0 .. emotions.Length - 1 do
                let positives = split.Labels |> Array.filter (fun l -> l[e]) |> Array.length

                if positives = 0 || positives = split.Labels.Length then
                    let which = if positives = 0 then "no positives" else "no negatives"

                    yield
                        $"{split.Name}: {emotions[e]} has {which}; its WA is the recall of the one class present"
                        + " (and a threshold tuned on it is arbitrary)"
        ]

    let shared = Set.intersect (Set.ofArray devIds) (Set.ofArray testIds)

    [
        yield! oneClass dev
        yield! oneClass test
        if not shared.IsEmpty then
            let shown = shared |> Seq.truncate 5 |> String.concat ", "
            yield $"{shared.Count} id(s) are in both {dev.Name} and {test.Name} (e.g. {shown}): is the test split held out?"
    ]

let private pair (low: float) (high: float) =
    JsonArray(JsonValue.Create low :> JsonNode, JsonValue.Create high :> JsonNode)

/// The protocol's JSON: the test metrics at dev-tuned thresholds, with bootstrap intervals when asked.
let toJson (report: Report) (confidence: Confidence option) : JsonObject =
    let perEmotion = JsonObject()

    for i, m in Array.indexed report.PerEmotion do
        let o = JsonObject()
        o["wa"] <- JsonValue.Create m.WA
        o["f1"] <- JsonValue.Create m.F1

        match confidence with
        | Some c ->
            o["wa_ci"] <- pair c.PerEmotion[i].WA.Low c.PerEmotion[i].WA.High
            o["f1_ci"] <- pair c.PerEmotion[i].F1.Low c.PerEmotion[i].F1.High
        | None -> ()

        perEmotion[m.Emotion] <- o

    let average = JsonObject()
    average["wa"] <- JsonValue.Create report.AverageWA
    average["f1"] <- JsonValue.Create report.AverageF1
    let json = JsonObject()
    json["per_emotion"] <- perEmotion
    json["average"] <- average

    match confidence with
    | Some c ->
        average["wa_ci"] <- pair c.AverageWA.Low c.AverageWA.High
        average["f1_ci"] <- pair c.AverageF1.Low c.AverageF1.High
        let b = JsonObject()
        b["resamples"] <- JsonValue.Create c.Options.Resamples
        b["seed"] <- JsonValue.Create c.Options.Seed
        b["level"] <- JsonValue.Create c.Options.Level
        b["unit"] <- JsonValue.Create c.Options.Unit
        b["clusters"] <- JsonValue.Create c.Clusters
        json["bootstrap"] <- b
    | None -> ()

    json

/// Reads both files, evaluates (thresholds from dev, metrics on test), and returns the JSON and the warnings.
let evaluateFiles (devPath: string) (testPath: string) (bootstrapOptions: BootstrapOptions option) =
    let devIds, dev = readSplit devPath
    let testIds, test = readSplit testPath
    let thresholds = tune dev
    let report = score thresholds test

    let confidence =
        bootstrapOptions |> Option.map (fun o -> bootstrap o thresholds test)

    toJson report confidence, warnings (devIds, dev) (testIds, test)
