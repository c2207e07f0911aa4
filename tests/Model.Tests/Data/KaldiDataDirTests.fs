module Research.Model.Tests.KaldiDataDirTests

open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.DataFixtures

/// A valid data dir with three utterances of two speakers, lines deliberately out of order.
let private writeValid (d: TempDir) =
    let absolute = d.WriteBytes("audio/c.wav", [| 1uy |])

    d.Write("data/wav.scp", [ "spkB-u2 wav/b.wav"; $"spkA-u1 {absolute}"; "spkA-u3 ../audio/a 3.wav" ])
    |> ignore

    d.Write("data/text", [ "spkA-u3 third one"; "spkA-u1 HELLO  WORLD"; "spkB-u2 it's" ])
    |> ignore

    d.Write("data/utt2spk", [ "spkB-u2 spkB"; "spkA-u1 spkA"; "spkA-u3 spkA" ])
    |> ignore

    d.Write("data/spk2utt", [ "spkA spkA-u1 spkA-u3"; "spkB spkB-u2" ]) |> ignore

    d.Write("data/video.scp", [ "spkA-u1 v/1.mp4"; "spkB-u2 v/2.npy"; "spkA-u3 v/3.mp4" ])
    |> ignore

    d.Sub "data"

/// The three files every data dir needs, for the error cases (each test overwrites one).
let private writeMinimal (d: TempDir) (ids: string list) =
    d.Write("data/wav.scp", ids |> List.map (fun u -> $"{u} {u}.wav")) |> ignore
    d.Write("data/text", ids |> List.map (fun u -> $"{u} words of {u}")) |> ignore
    d.Write("data/utt2spk", ids |> List.map (fun u -> $"{u} s")) |> ignore
    d.Sub "data"

let private load (dir: string) = KaldiDataDir.Load dir |> ignore

[<Tests>]
let tests =
    testList
        "Data.KaldiDataDir"
        [
            test "reads utterances sorted by id, speakers sorted with a stable index, paths resolved against the dir" {
                use d = new TempDir()
                let data = KaldiDataDir.Load(writeValid d)
                let ids = data.Utterances |> Seq.map _.Id |> List.ofSeq
                Expect.equal ids [ "spkA-u1"; "spkA-u3"; "spkB-u2" ] "sorted ids"
                let u1, u3, u2 = data.Utterances[0], data.Utterances[1], data.Utterances[2]
                Expect.equal u1.WavPath (d.Sub "audio/c.wav") "absolute path kept"
                Expect.equal u2.WavPath (d.Sub "data/wav/b.wav") "relative path resolved against the data dir"
                Expect.equal u3.WavPath (d.Sub "audio/a 3.wav") "a path with a space and '..'"
                Expect.equal u1.Transcript "HELLO  WORLD" "transcript is the rest of the line"
                Expect.equal u2.VideoPath (d.Sub "data/v/2.npy") "video path resolved"
                Expect.equal (u3.Speaker, u2.Speaker) ("spkA", "spkB") "speakers"
                Expect.equal (List.ofSeq data.Speakers) [ "spkA"; "spkB" ] "speaker list"
                Expect.equal (data.SpeakerIndex["spkA"], data.SpeakerIndex["spkB"]) (0, 1) "speaker index follows the sorted list"
                Expect.isTrue data.HasVideo "has video"
            }

            test "write then load gives the same utterances; files are sorted as Kaldi requires and spk2utt is generated" {
                use d = new TempDir()

                let u id spk text =
                    Utterance(id, spk, text, d.Sub $"w/{id}.wav", d.Sub $"v/{id}.mp4")

                let utterances =
                    [
                        u "s2-b" "s2" "bee"
                        u "s1-c" "s1" "see it"
                        u "s10-a" "s10" "a"
                        u "s1-a" "s1" "ay"
                    ]

                let out = d.Sub "out/train"
                KaldiDataDir.Write(out, utterances)

                let lines f =
                    File.ReadAllLines(Path.Combine(out, f)) |> List.ofArray

                Expect.equal (lines "utt2spk") [ "s1-a s1"; "s1-c s1"; "s10-a s10"; "s2-b s2" ] "utt2spk sorted (C order)"
                Expect.equal (lines "spk2utt") [ "s1 s1-a s1-c"; "s10 s10-a"; "s2 s2-b" ] "spk2utt generated"
                Expect.equal (lines "text").[1] "s1-c see it" "text"
                let back = KaldiDataDir.Load out

                Expect.equal
                    (List.ofSeq back.Utterances)
                    (utterances
                     |> List.sortWith (fun a b -> System.String.CompareOrdinal(a.Id, b.Id)))
                    "round trip"

                Expect.equal (siblingsOf out) [] "no temporary folder left"
                // Rewriting replaces the old directory as a whole.
                KaldiDataDir.Write(out, [ utterances[0] ])
                Expect.equal (KaldiDataDir.Load(out).Utterances.Count) 1 "replaced"
                Expect.equal (siblingsOf out) [] "no temporary folder left after a replace"
            }

            test "a duplicate utterance id is an error naming the file and both lines" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a"; "b" ]
                d.Write("data/text", [ "a x"; "b y"; "a z" ]) |> ignore
                let m = messageOf<InvalidDataException>(fun () -> load dir)
                contains m [ Path.Combine(dir, "text") + ":3"; "duplicate key 'a' (first on line 1)" ]
            }

            testList
                "malformed lines are errors naming the file and line"
                [
                    for file, lines, expected in
                        [
                            "utt2spk", [ "a s"; "b s extra" ], [ "utt2spk:2"; "more than one speaker" ]
                            "utt2spk", [ "a s"; "b" ], [ "utt2spk:2"; "'b' has nothing after it" ]
                            "wav.scp", [ "a a.wav"; "b" ], [ "wav.scp:2"; "expected 'utt path" ]
                            "text", [ "a x"; ""; "b y" ], [ "text:2"; "empty line" ]
                            "spk2utt", [ "s" ], [ "spk2utt:1"; "'s' has nothing after it" ]
                            "segments", [ "a rec 1.0" ], [ "segments:1"; "malformed" ]
                            "segments", [ "a rec x 2" ], [ "segments:1"; "malformed" ]
                            "segments", [ "a rec 2.0 1.0" ], [ "segments:1"; "expected 0 <= start < end" ]
                            "video.scp", [ "a a.mp4"; "b ffmpeg b.mp4 |" ], [ "video.scp:2"; "piped commands are not supported" ]
                        ] ->
                        test $"""{file} "{String.concat " / " lines}": {expected[1]}""" {
                            use d = new TempDir()
                            let dir = writeMinimal d [ "a"; "b" ]

                            if file = "segments" then
                                d.Write("data/wav.scp", [ "rec rec.wav" ]) |> ignore

                            d.Write("data/" + file, lines) |> ignore
                            let m = messageOf<InvalidDataException>(fun () -> load dir)
                            contains m (Path.Combine(dir, expected[0]) :: expected.Tail)
                        }
                ]

            test "utterances missing from text or utt2spk, or only there, are listed (10 at most) with the count" {
                use d = new TempDir()
                let ids = [ for i in 1..12 -> $"u{i:D2}" ]
                let dir = writeMinimal d ids
                d.Write("data/text", [ "u01 only one" ]) |> ignore

                d.Write("data/utt2spk", (ids |> List.map (fun u -> $"{u} s")) @ [ "ghost s" ])
                |> ignore

                let m = messageOf<InvalidDataException>(fun () -> load dir)

                contains
                    m
                    [
                        "11 utterance(s) of wav.scp have no line in text: u02, u03"
                        "u11, … (11 in all)"
                        "1 utterance(s) of utt2spk are not in wav.scp: ghost"
                    ]

                Expect.isFalse (m.Contains "u12,") "at most 10 listed"
            }

            test "an utterance without a video.scp line is an error when video.scp exists" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a"; "b" ]
                d.Write("data/video.scp", [ "a a.mp4" ]) |> ignore
                let m = messageOf<InvalidDataException>(fun () -> load dir)
                contains m [ "1 utterance(s) of wav.scp have no line in video.scp: b" ]
            }

            test "a spk2utt that contradicts utt2spk is an error naming the line" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a"; "b"; "c" ]
                d.Write("data/utt2spk", [ "a s1"; "b s1"; "c s2" ]) |> ignore

                for lines, expected in
                    [
                        [ "s1 a b"; "s2 c a" ], [ "spk2utt:2"; "utterance 'a' is listed again (first on line 1)" ]
                        [ "s1 a"; "s2 c b" ], [ "spk2utt:2"; "listed under speaker 's2' but utt2spk line 2 says 's1'" ]
                        [ "s1 a b"; "s2 c x" ], [ "spk2utt:2"; "'x' of speaker 's2' is not in utt2spk" ]
                        [ "s1 a b" ], [ "spk2utt: 1 utterance(s) of utt2spk are not listed: c" ]
                    ] do
                    d.Write("data/spk2utt", lines) |> ignore
                    contains (messageOf<InvalidDataException>(fun () -> load dir)) expected

                d.Write("data/spk2utt", [ "s2 c"; "s1 b a" ]) |> ignore
                load dir
            }

            test "an empty transcript is an error unless skipping is asked for, which lists it" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a"; "b"; "c" ]
                d.Write("data/text", [ "a x"; "b"; "c   " ]) |> ignore
                contains (messageOf<InvalidDataException>(fun () -> load dir)) [ "text: 2 empty transcript(s): 'b' (line 2), 'c' (line 3)" ]
                let data = KaldiDataDir.Load(dir, KaldiDataDirOptions(SkipEmptyTranscripts = true))
                Expect.equal (data.Utterances |> Seq.map _.Id |> List.ofSeq) [ "a" ] "kept"
                Expect.equal (List.ofSeq data.SkippedEmptyTranscripts) [ "b"; "c" ] "skipped are reported"
            }

            test "piped wav.scp entries are rejected by default; allowed, the command's output is the audio" {
                use d = new TempDir()
                let wav = d.WriteBytes("x.wav", [| 82uy; 73uy; 70uy; 70uy; 0uy; 255uy |])
                let dir = writeMinimal d [ "a"; "b" ]
                d.Write("data/wav.scp", [ "a a.wav"; $"b cat '{wav}' |" ]) |> ignore
                contains (messageOf<InvalidDataException>(fun () -> load dir)) [ "wav.scp:2"; "piped command"; "AllowPipes" ]
                let data = KaldiDataDir.Load(dir, KaldiDataDirOptions(AllowPipes = true))
                let b = data.Utterances[1]
                Expect.isTrue b.WavIsCommand "marked as a command"
                Expect.equal b.WavPath $"cat '{wav}'" "command without the pipe"
                Expect.equal (b.ReadWavBytes()) (File.ReadAllBytes wav) "the command's standard output"
                let failing = Utterance("z", "s", "t", "echo oops >&2; exit 3", WavIsCommand = true)

                contains
                    (messageOf<IOException>(fun () -> failing.ReadWavBytes() |> ignore))
                    [ "utterance 'z'"; "exited with code 3"; "oops" ]
                // Write keeps the command form.
                KaldiDataDir.Write(d.Sub "copy", data.Utterances)
                Expect.equal (File.ReadAllLines(d.Sub "copy/wav.scp").[1]) $"b cat '{wav}' |" "written back as a pipe"
            }

            test "Load does not touch the named files; Validate lists the missing ones with the count" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a"; "b"; "c" ]
                d.WriteBytes("data/a.wav", [| 0uy |]) |> ignore
                d.Write("data/video.scp", [ "a a.wav"; "b b.mp4"; "c a.wav" ]) |> ignore
                let data = KaldiDataDir.Load dir
                let m = messageOf<FileNotFoundException>(fun () -> data.Validate())
                contains m [ "3 file(s) do not exist"; "wav.scp 'b'"; "wav.scp 'c'"; "video.scp 'b'" ]
                d.WriteBytes("data/b.wav", [||]) |> ignore
                d.WriteBytes("data/c.wav", [||]) |> ignore
                d.WriteBytes("data/b.mp4", [||]) |> ignore
                data.Validate()
            }

            test "segments: wav.scp names recordings and each utterance carries its span; round trip" {
                use d = new TempDir()
                let dir = writeMinimal d [ "r1-a"; "r1-b"; "r2-a" ]
                d.Write("data/wav.scp", [ "r1 r1.wav"; "r2 r2.wav" ]) |> ignore

                d.Write("data/segments", [ "r1-a r1 0 1.5"; "r1-b r1 1.5 3.25 1"; "r2-a r2 0.5 -1" ])
                |> ignore

                let data = KaldiDataDir.Load dir
                let b = data.Utterances[1]
                Expect.equal b.Segment (Some(Segment("r1", 1.5, 3.25, 1)) |> Option.toObj) "segment with channel"
                Expect.equal b.WavPath (d.Sub "data/r1.wav") "the recording's path"
                Expect.equal data.Utterances[2].Segment.End -1.0 "to the end"
                KaldiDataDir.Write(d.Sub "copy", data.Utterances)
                let r1, r2 = d.Sub "data/r1.wav", d.Sub "data/r2.wav"
                Expect.equal (File.ReadAllLines(d.Sub "copy/wav.scp") |> List.ofArray) [ $"r1 {r1}"; $"r2 {r2}" ] "recordings"
                Expect.equal (List.ofSeq (KaldiDataDir.Load(d.Sub "copy").Utterances)) (List.ofSeq data.Utterances) "round trip"
                d.Write("data/segments", [ "r1-a r1 0 1.5"; "r1-b r9 1.5 3" ]) |> ignore
                contains (messageOf<InvalidDataException>(fun () -> load dir)) [ "segments:2"; "recording 'r9' is not in wav.scp" ]
            }

            test "Write refuses bad input and leaves an existing directory as it was" {
                use d = new TempDir()
                let out = d.Sub "out"
                let ok = Utterance("a", "s", "x", "a.wav")
                KaldiDataDir.Write(out, [ ok ])
                let before = File.ReadAllText(Path.Combine(out, "wav.scp"))

                for bad, expected in
                    [
                        [ ok; Utterance("a", "s", "y", "b.wav") ], "'a' appears twice"
                        [ ok; Utterance("b c", "s", "y", "b.wav") ], "id 'b c'"
                        [ ok; Utterance("b", "s", "two\nlines", "b.wav") ], "line break"
                        [ ok; Utterance("b", "s", "y", "b.wav", "b.mp4") ], "every utterance has a video path or none"
                        [ Utterance("b", "", "y", "b.wav") ], "speaker ''"
                    ] do
                    contains (messageOf<System.ArgumentException>(fun () -> KaldiDataDir.Write(out, bad))) [ expected ]

                Expect.equal (File.ReadAllText(Path.Combine(out, "wav.scp"))) before "unchanged"
                Expect.equal (siblingsOf out) [] "nothing left beside it"
            }

            test "a missing required file is named" {
                use d = new TempDir()
                let dir = writeMinimal d [ "a" ]
                File.Delete(Path.Combine(dir, "utt2spk"))
                contains (messageOf<FileNotFoundException>(fun () -> load dir)) [ dir; "missing utt2spk" ]
            }
        ]
