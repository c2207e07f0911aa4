// Speed of the LFBE front end: our Fbank (C#, one thread) against torchaudio's Kaldi fbank (one thread) on the
// reference utterances, in the same run; writes benchmarks/lfbe.json and prints times real time for both.
// usage: dotnet fsi scripts/bench-lfbe.fsx [--seconds 300] [--repeats 9]; help: dotnet fsi scripts/bench-lfbe.fsx -- --help
#load "Research.fsx"

Research.requireDebian "the LFBE benchmark" [ "python3-torchaudio" ]
exit (Research.runBenchmark "bench-lfbe" (Research.scriptArgs ()))
