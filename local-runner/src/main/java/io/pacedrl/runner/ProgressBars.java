package io.pacedrl.runner;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/** The progress bars of long commands: on stderr, so that stdout keeps only the results. */
final class ProgressBars {
    private ProgressBars() {}

    static ProgressBar create(String task, long max) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(500).build();
    }
}
