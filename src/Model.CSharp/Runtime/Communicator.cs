namespace Research.Model.Runtime;

/// <summary>Chooses the communicator of a process: MPI only when the process was started by <c>mpirun</c>.</summary>
public static class Communicator
{
    /// <summary>Whether an MPI launcher started this process (OpenMPI sets OMPI_COMM_WORLD_SIZE, PMIx launchers PMIX_RANK).</summary>
    public static bool LaunchedByMpi() =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null
        || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>
    /// <see cref="MpiCommunicator"/> when launched by <c>mpirun</c> (or when <paramref name="forceMpi"/>), else the
    /// <see cref="SingleProcessCommunicator"/>, which loads no MPI library.
    /// </summary>
    public static ICommunicator FromEnvironment(bool forceMpi = false) =>
        forceMpi || LaunchedByMpi() ? MpiCommunicator.Initialize() : SingleProcessCommunicator.Instance;

    /// <summary>
    /// Runs a rank's work. On an exception a job of several ranks prints it naming the rank and aborts every rank
    /// (no rank is left waiting in a collective); a single process rethrows. On success MPI is finalised.
    /// </summary>
    public static int Run(ICommunicator communicator, Func<int> work)
    {
        int code;
        try
        {
            code = work();
        }
        catch (Exception e) when (communicator.Size > 1)
        {
            Console.Error.WriteLine(
                $"rank {communicator.Rank} of {communicator.Size} failed: {e.Message} ({e.GetType().Name}; RESEARCH_DEBUG=1 shows the stack)"
            );
            if (Environment.GetEnvironmentVariable("RESEARCH_DEBUG") == "1")
            {
                Console.Error.WriteLine(e);
            }
            communicator.Abort(1);
            return 1;
        }
        communicator.Dispose();
        return code;
    }

    /// <summary>
    /// Torch threads per rank when none are asked for: the cores divided among the ranks on this machine
    /// (OMPI_COMM_WORLD_LOCAL_SIZE), at least 1; all cores for a process not started by mpirun.
    /// </summary>
    public static int DefaultThreads()
    {
        string? local = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE");
        int ranksHere = local is not null && int.TryParse(local, out int n) && n > 0 ? n : 1;
        return Math.Max(1, Environment.ProcessorCount / ranksHere);
    }
}
