namespace Research.Model.Data;

/// <summary>
/// The split of a pre-training data dir into training and held-out utterances: per speaker, the last N utterances
/// by id (ordinal) are held out, so the speaker task is scored on known speakers and CER on unseen sentences. One
/// function decides it for the trainer (<see cref="Research.Model.Training.PretrainingData.Split"/>) and for the
/// statistics computed on the training split only (<see cref="TrainingCmvn"/>), so both mean the same utterances.
/// </summary>
public static class PretrainingSplit
{
    /// <summary>The ids held out of <paramref name="utterances"/>: the last <paramref name="heldOutPerSpeaker"/> of each speaker by id.</summary>
    public static HashSet<string> HeldOutIds(IEnumerable<Utterance> utterances, int heldOutPerSpeaker)
    {
        ArgumentNullException.ThrowIfNull(utterances);
        if (heldOutPerSpeaker < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(heldOutPerSpeaker), heldOutPerSpeaker, "must be at least 0");
        }
        return utterances
            .GroupBy(u => u.Speaker, StringComparer.Ordinal)
            .SelectMany(g => g.Select(u => u.Id).Order(StringComparer.Ordinal).TakeLast(heldOutPerSpeaker))
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The training utterances of <paramref name="dir"/>, in its order: all but <see cref="HeldOutIds"/>.</summary>
    public static IReadOnlyList<Utterance> Training(KaldiDataDir dir, int heldOutPerSpeaker)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var heldOut = HeldOutIds(dir.Utterances, heldOutPerSpeaker);
        return dir.Utterances.Where(u => !heldOut.Contains(u.Id)).ToList();
    }
}
