import { Component, type ReactNode } from "react";

interface Props {
  area: string;
  children: ReactNode;
}

/** Keeps a failure in one panel from blanking the whole window; the panel offers to try again. */
export class ErrorBoundary extends Component<Props, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="panel-error" role="alert">
        The {this.props.area} hit an error: {this.state.error.message}{" "}
        <button type="button" className="link-button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
