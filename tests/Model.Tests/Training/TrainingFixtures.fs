/// A clock the tests move by hand, step results and run information for the run-folder tests.
module Research.Model.Tests.TrainingFixtures

open System
open Research.Model
open Research.Model.Training

/// A TimeProvider whose time moves only when told.
type FakeClock(start: DateTimeOffset) =
    inherit TimeProvider()
    let mutable now = start

    new() = FakeClock(DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero))

    /// Moves the time forward.
    member _.Advance(t: TimeSpan) = now <- now + t

    override _.GetUtcNow() = now

/// A step with the pre-training terms (ASR, speaker) and no emotion term.
let step (n: int64) =
    StepResult(
        n,
        1e-4 * float n,
        2.5 / float n,
        Nullable(2.0 / float n),
        Nullable(0.5 / float n),
        Nullable(),
        1.25 + float n,
        800.0 + float n
    )

/// Run information that does not depend on the machine.
let info =
    RunInfo(
        "0123456789abcdef0123456789abcdef01234567",
        Nullable false,
        readOnlyDict [ "TorchSharp", "0.107.0"; "libtorch", "2.10.0" ],
        ".NET 10.0.0",
        "Test OS (X64)",
        2,
        [| "trainer"; "--seed"; "7" |],
        DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero)
    )
